/**
 * `formatNumber`: the one way specdec writes its figures (tokens per second,
 * speedup ratios, percentages, milliseconds, megabytes), shared by the CLI's
 * metrics lines and the benchmark report so that a figure reads the same
 * everywhere.
 *
 * @module
 */

/**
 * Formatters of the figures specdec prints. Every one takes `undefined` (or a
 * non-finite number) and returns `-`, the report's mark for "not measured".
 * Units that are symbols are part of the text (`1.45x`, `45.0%`); units that
 * are words (tok/s, ms, MB) are left to the caller (a table header, or
 * `${formatNumber.ms(v)} ms`), so columns stay plain numbers.
 */
export interface NumberFormatter {
  /**
   * Tokens per second, one decimal: `290.1`.
   *
   * @param v Tokens per second.
   * @returns The text.
   */
  tokensPerSecond(v: number | undefined): string;
  /**
   * A ratio (speedup) with an `x`: `1.45x`.
   *
   * @param v The ratio.
   * @param digits Decimals (default 2).
   * @returns The text.
   */
  ratio(v: number | undefined, digits?: number): string;
  /**
   * A fraction as a percentage: `0.45` → `45.0%`.
   *
   * @param fraction The fraction (1 = 100%).
   * @param digits Decimals (default 1).
   * @returns The text.
   */
  percent(fraction: number | undefined, digits?: number): string;
  /**
   * A signed change as a percentage: `0.25` → `+25.0%`, `-0.053` → `-5.3%`.
   *
   * @param fraction The change (0.25 = 25% more).
   * @param digits Decimals (default 1).
   * @returns The text.
   */
  change(fraction: number | undefined, digits?: number): string;
  /**
   * Milliseconds: `1.83`.
   *
   * @param v Milliseconds.
   * @param digits Decimals (default 2).
   * @returns The text.
   */
  ms(v: number | undefined, digits?: number): string;
  /**
   * Seconds from milliseconds: `1234` → `1.23`.
   *
   * @param ms Milliseconds.
   * @param digits Decimals (default 2).
   * @returns The text.
   */
  seconds(ms: number | undefined, digits?: number): string;
  /**
   * Megabytes (10^6 bytes) from bytes: `539_754_496` → `539.8`.
   *
   * @param bytes Bytes.
   * @param digits Decimals (default 1).
   * @returns The text.
   */
  megabytes(bytes: number | undefined, digits?: number): string;
  /**
   * Any other figure with fixed decimals: `0.113`.
   *
   * @param v The number.
   * @param digits Decimals (default 2).
   * @returns The text.
   */
  fixed(v: number | undefined, digits?: number): string;
}

function finite(v: number | undefined): v is number {
  return v !== undefined && Number.isFinite(v);
}

/**
 * The shared number formatter (see {@linkcode NumberFormatter}).
 *
 * @example Formatting a benchmark row
 * ```ts
 * import { formatNumber } from "@specdec/specdec";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatNumber.tokensPerSecond(290.14), "290.1");
 * assert.equal(formatNumber.ratio(435.2 / 290.1), "1.50x");
 * assert.equal(formatNumber.percent(0.356), "35.6%");
 * assert.equal(formatNumber.change(-0.053), "-5.3%");
 * assert.equal(formatNumber.ms(1.834), "1.83");
 * assert.equal(formatNumber.megabytes(539_754_496), "539.8");
 * assert.equal(formatNumber.ratio(undefined), "-");
 * ```
 */
export const formatNumber: NumberFormatter = {
  tokensPerSecond: (v) => (finite(v) ? v.toFixed(1) : "-"),
  ratio: (v, digits = 2) => (finite(v) ? `${v.toFixed(digits)}x` : "-"),
  percent: (f, digits = 1) => (finite(f) ? `${(100 * f).toFixed(digits)}%` : "-"),
  change: (
    f,
    digits = 1,
  ) => (finite(f) ? `${f >= 0 ? "+" : ""}${(100 * f).toFixed(digits)}%` : "-"),
  ms: (v, digits = 2) => (finite(v) ? v.toFixed(digits) : "-"),
  seconds: (ms, digits = 2) => (finite(ms) ? (ms / 1000).toFixed(digits) : "-"),
  megabytes: (bytes, digits = 1) => (finite(bytes) ? (bytes / 1e6).toFixed(digits) : "-"),
  fixed: (v, digits = 2) => (finite(v) ? v.toFixed(digits) : "-"),
};
