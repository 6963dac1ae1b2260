// Reading the decoders' metrics (camelCase records) and formatting them for the CLI.

import { formatNumber } from "../util/format_number.ts";

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
