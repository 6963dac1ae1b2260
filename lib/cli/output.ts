/**
 * What the CLI prints and where: its terminal ({@linkcode CliIO}; {@linkcode denoCliIO} wires
 * it to the process, tests pass their own to capture output) and the figures it reads from a
 * decoder's metrics and formats (the summary line of `generate`, the comparison of `demo`,
 * JSON-ready values for `--json`).
 *
 * @module
 */

import { formatNumber } from "../util/format_number.ts";

// --- the terminal ---

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

// --- figures from a decoder's metrics ---

/** The figures the CLI shows, read from a decoder's metrics record. */
export interface SummaryFigures {
  /** Generated tokens. */
  newTokens: number;
  /** Wall time of the generation in ms. */
  wallTimeMs: number;
  /** Generated tokens per second. */
  tokensPerSecond: number;
  /** Accepted / drafted, or undefined when nothing was drafted (autoregressive). */
  acceptanceRate: number | undefined;
  /** Mean tokens emitted per target forward (τ). */
  meanAcceptedLength: number | undefined;
  /** Target forwards (prefill included if the decoder counts it). */
  targetForwards: number | undefined;
}

function finite(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Extracts the summary figures; `newTokens` falls back to the token count. */
export function summaryFigures(
  metrics: Record<string, unknown>,
  tokenCount: number,
): SummaryFigures {
  const wallTimeMs = finite(metrics.wallTimeMs) ?? 0;
  const newTokens = finite(metrics.newTokens) ?? finite(metrics.generatedTokens) ?? tokenCount;
  const tps = finite(metrics.tokensPerSecond) ??
    (wallTimeMs > 0 ? (1000 * newTokens) / wallTimeMs : 0);
  const drafted = finite(metrics.draftedTokens) ?? finite(metrics.drafted);
  const acceptance = drafted === 0 ? undefined : finite(metrics.acceptanceRate);
  return {
    newTokens,
    wallTimeMs,
    tokensPerSecond: tps,
    acceptanceRate: acceptance,
    meanAcceptedLength: finite(metrics.meanAcceptedLength),
    targetForwards: finite(metrics.targetForwards),
  };
}

/** Percent with one decimal, or `-` ({@linkcode formatNumber}'s `percent`). */
export function pct(v: number | undefined): string {
  return formatNumber.percent(v);
}

/** Fixed decimals, or `-` ({@linkcode formatNumber}'s `fixed`). */
export function fix(v: number | undefined, digits = 2): string {
  return formatNumber.fixed(v, digits);
}

/** The one-line summary printed on stderr after `generate`. */
export function summaryLine(f: SummaryFigures, description: string): string {
  const parts = [
    `${f.newTokens} tokens in ${formatNumber.seconds(f.wallTimeMs)}s`,
    `${formatNumber.tokensPerSecond(f.tokensPerSecond)} tok/s`,
    `acceptance ${pct(f.acceptanceRate)}`,
    `τ ${fix(f.meanAcceptedLength)}`,
  ];
  if (f.targetForwards !== undefined) parts.push(`${f.targetForwards} target forwards`);
  return `[specdec] ${description}: ${parts.join(", ")}`;
}

/** Converts typed arrays (and nested records) to plain JSON values. */
export function toJsonValue(v: unknown): unknown {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    return Array.from(v as unknown as ArrayLike<number>);
  }
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v instanceof Map) {
    return Object.fromEntries([...v].map(([k, x]) => [String(k), toJsonValue(x)]));
  }
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonValue(x)]));
  }
  if (typeof v === "number" && !Number.isFinite(v)) return null;
  if (typeof v === "bigint") return Number(v);
  return v;
}
