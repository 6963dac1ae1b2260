/**
 * `runtimeLine`: the sentence naming the thread setting each kind of method ran with.
 *
 * @module
 */

import type { BenchmarkResults, RuntimeSetting } from "../results.ts";

/**
 * Says which runtime setting one-session and two-session methods ran with.
 *
 * @param results The benchmark results.
 * @returns E.g. `autoregressive and prompt lookup (one session) 2 threads, spinning on; ...`.
 */
export function runtimeLine(results: BenchmarkResults): string {
  const rt = results.settings.methodRuntime;
  if (rt === undefined) return `${results.machine.threads} thread(s) for every method`;
  const n = (t: number): string => `${t} thread${t === 1 ? "" : "s"}`;
  const fmt = (x: RuntimeSetting | undefined, second: string): string => {
    if (x === undefined) return "-";
    const spin = `spinning ${x.spinning ? "on" : "off"}`;
    if (x.draftThreads === undefined || x.draftThreads === x.threads) {
      return `${n(x.threads)}, ${spin}`;
    }
    return `${n(x.threads)} for the target and ${x.draftThreads} for the ${second}, ${spin}`;
  };
  const heads = [
    rt.medusa !== undefined ? "the Medusa heads" : "",
    rt.eagle !== undefined ? "the EAGLE head" : "",
  ]
    .filter((h) => h !== "");
  const second = heads.length > 0 ? `draft and ${heads.join(" and ")}` : "draft";
  const two = rt.eagle !== undefined ? "draft-target, Medusa and EAGLE" : "draft-target and Medusa";
  return `autoregressive and prompt lookup (one session) ${fmt(rt.ar, second)}; ${two} ` +
    `(two sessions alternating) ${fmt(rt.speculative, second)}`;
}
