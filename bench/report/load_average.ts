/**
 * `loadAverage`: the machine's load averages (other work sharing the CPU).
 *
 * @module
 */

/**
 * 1-, 5- and 15-minute load averages.
 *
 * @returns The three averages, or an empty list where the OS does not report them.
 */
export function loadAverage(): number[] {
  try {
    return Deno.loadavg();
  } catch {
    return [];
  }
}
