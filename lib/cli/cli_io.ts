/**
 * The CLI's view of its terminal: where text goes, whether stderr is a TTY,
 * and how stdin is read. `denoCliIO()` wires it to the process; tests pass
 * their own to capture output.
 *
 * @module
 */

/** Streams and terminal facts the CLI needs; inject one to capture output in tests. */
export interface CliIO {
  /** Writes text to standard output (generated text, `--json`, help). */
  writeOut(text: string): Promise<void>;
  /** Writes text to standard error (summary line, progress, errors). */
  writeErr(text: string): Promise<void>;
  /** True when stderr is a terminal: progress bars redraw in place, else plain lines. */
  readonly stderrIsTerminal: boolean;
  /** True when stdin is a terminal (no piped prompt to read). */
  readonly stdinIsTerminal: boolean;
  /** Reads all of stdin as UTF-8 text. */
  readStdin(): Promise<string>;
}

/**
 * The process's own stdin, stdout and stderr.
 *
 * @returns A {@linkcode CliIO} over `Deno.stdin`, `Deno.stdout`, `Deno.stderr`.
 *
 * @example Writing a line
 * ```ts
 * import { denoCliIO } from "@specdec/specdec/cli";
 * const io = denoCliIO();
 * await io.writeErr("");
 * ```
 */
export function denoCliIO(): CliIO {
  const encoder = new TextEncoder();
  const writeAll = async (w: { write(p: Uint8Array): Promise<number> }, text: string) => {
    let bytes = encoder.encode(text); // [n] u8
    while (bytes.length > 0) {
      const n = await w.write(bytes);
      bytes = bytes.subarray(n);
    }
  };
  return {
    writeOut: (text) => writeAll(Deno.stdout, text),
    writeErr: (text) => writeAll(Deno.stderr, text),
    stderrIsTerminal: Deno.stderr.isTerminal(),
    stdinIsTerminal: Deno.stdin.isTerminal(),
    readStdin: () => new Response(Deno.stdin.readable).text(),
  };
}
