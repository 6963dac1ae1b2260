/**
 * Small helpers shared by the decoders.
 *
 * @module
 */

import type { LanguageModel, TextTokenizer } from "../model/language_model.ts";

/**
 * Row `i` of a `[rows, vocab]` logits buffer (a view, not a copy).
 *
 * @param logits Logits `[rows, vocab]` f32.
 * @param vocab Row width.
 * @param i Row index; negative counts from the end.
 * @returns The row `[vocab]` f32.
 */
export function row(logits: Float32Array, vocab: number, i: number): Float32Array {
  const rows = logits.length / vocab;
  const r = i < 0 ? rows + i : i;
  return logits.subarray(r * vocab, (r + 1) * vocab);
}

/**
 * Consecutive positions `[start, start + n)` (a chain).
 *
 * @param start First position.
 * @param n Count.
 * @returns Positions `[n]` i32.
 */
export function chainPositions(start: number, n: number): Int32Array {
  const out = new Int32Array(n); // [n] i32
  for (let i = 0; i < n; i++) out[i] = start + i;
  return out;
}

/**
 * Checks an object looks like a {@linkcode LanguageModel}, naming the parameter.
 *
 * @param model The candidate.
 * @param name Parameter name for the error.
 */
export function checkModel(model: LanguageModel, name: string): void {
  if (
    model === null || typeof model !== "object" || typeof model.forward !== "function" ||
    typeof model.prefill !== "function" || typeof model.rewind !== "function"
  ) {
    throw new TypeError(`${name} must be a LanguageModel`);
  }
  if (!Number.isInteger(model.vocabSize) || model.vocabSize < 1) {
    throw new RangeError(`${name}.vocabSize must be a positive integer, got ${model.vocabSize}`);
  }
}

/** Checks `value` is an integer in `[min, max]`, naming `name` otherwise. */
export function checkInt(name: string, value: unknown, min: number, max = Infinity): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${String(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(
      `${name} must be in [${min}, ${max === Infinity ? "inf" : max}], got ${value}`,
    );
  }
  return value;
}

/** Checks a tokenizer object has the surface decoders need. */
export function checkTokenizer(tokenizer: TextTokenizer, vocabSize: number, name: string): void {
  if (
    tokenizer === null || typeof tokenizer !== "object" ||
    typeof tokenizer.encode !== "function" || typeof tokenizer.decode !== "function"
  ) {
    throw new TypeError("tokenizer must have encode() and decode()");
  }
  if (tokenizer.vocabSize > vocabSize) {
    throw new RangeError(
      `tokenizer vocabSize ${tokenizer.vocabSize} exceeds ${name} vocabSize ${vocabSize}`,
    );
  }
}
