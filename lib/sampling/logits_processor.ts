/**
 * Logits processing: temperature, top-k and top-p (nucleus) turn one row of
 * logits into a probability vector; temperature 0 means greedy.
 *
 * @module
 */

import { argmax } from "./argmax.ts";

/** Sampling parameters shared by every decoder. */
export interface SamplingOptions {
  /** Softmax temperature, `>= 0`; `0` is greedy (argmax, lowest index wins ties). Default `0`. */
  temperature?: number;
  /** Keep only the `topK` most likely tokens; `0` disables. Default `0`. */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches `topP`, in `(0, 1]`; `1` disables. Default `1`. */
  topP?: number;
}

/**
 * Checks sampling parameters and throws a `TypeError` / `RangeError` naming the
 * offending one.
 *
 * @param options The parameters to check.
 */
export function validateSamplingOptions(options: SamplingOptions): void {
  const { temperature, topK, topP } = options;
  if (temperature !== undefined) {
    if (typeof temperature !== "number") throw new TypeError("temperature must be a number");
    if (!(temperature >= 0) || !Number.isFinite(temperature)) {
      throw new RangeError(`temperature must be a finite number >= 0, got ${temperature}`);
    }
  }
  if (topK !== undefined) {
    if (typeof topK !== "number" || !Number.isInteger(topK)) {
      throw new TypeError(`topK must be an integer, got ${topK}`);
    }
    if (topK < 0) throw new RangeError(`topK must be >= 0 (0 disables it), got ${topK}`);
  }
  if (topP !== undefined) {
    if (typeof topP !== "number") throw new TypeError("topP must be a number");
    if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${topP}`);
  }
}

/**
 * Turns logits into the distribution a decoder samples from. The same
 * processor must be applied to the draft and the target so that speculative
 * sampling reproduces the processed target distribution exactly.
 *
 * @example Greedy and sampled processing
 * ```ts
 * import { LogitsProcessor } from "@specdec/specdec";
 * const p = new LogitsProcessor({ temperature: 1, topK: 2 });
 * const probs = p.probs(new Float32Array([0, 1, 2]));
 * if (probs[0] !== 0 || Math.abs(probs[1]! + probs[2]! - 1) > 1e-12) throw new Error();
 * if (!new LogitsProcessor({ temperature: 0 }).greedy) throw new Error();
 * ```
 */
export class LogitsProcessor {
  /** Softmax temperature (`0` = greedy). */
  readonly temperature: number;
  /** Top-k cut-off (`0` = off). */
  readonly topK: number;
  /** Nucleus cut-off (`1` = off). */
  readonly topP: number;

  /**
   * Creates a processor; throws on invalid parameters.
   *
   * @param options Sampling parameters, validated here.
   */
  constructor(options: SamplingOptions = {}) {
    validateSamplingOptions(options);
    this.temperature = options.temperature ?? 0;
    this.topK = options.topK ?? 0;
    this.topP = options.topP ?? 1;
  }

  /** True when the temperature is 0: decoders take the argmax. */
  get greedy(): boolean {
    return this.temperature === 0;
  }

  /**
   * Processed probabilities of one row of logits. At temperature 0 it is the
   * one-hot vector of the argmax.
   *
   * @param logits One row `[vocab]` f32.
   * @returns Probabilities `[vocab]` f64, summing to 1.
   */
  probs(logits: ArrayLike<number>): Float64Array {
    const n = logits.length;
    const out = new Float64Array(n); // [vocab] f64
    if (this.greedy) {
      out[argmax(logits)] = 1;
      return out;
    }
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
    const invT = 1 / this.temperature;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp((logits[i]! - max) * invT);
      out[i] = e;
      sum += e;
    }
    for (let i = 0; i < n; i++) out[i] = out[i]! / sum;
    if ((this.topK > 0 && this.topK < n) || this.topP < 1) this.#truncate(out);
    return out;
  }

  /** Applies top-k then top-p in place and renormalises. */
  #truncate(probs: Float64Array): void {
    const n = probs.length;
    const k = this.topK > 0 ? Math.min(this.topK, n) : n;
    // indices descending by probability, ties to the lower index: the best k
    // (selection for small k, a full sort otherwise)
    const order = k <= 256 ? topIndices(probs, k) : nucleusCandidates(probs, k, this.topP);
    let keep = order.length; // k, or fewer when only the nucleus candidates were sorted
    if (this.topP < 1) {
      let kept = 0; // mass of the top-k set
      if (k === n) { for (let i = 0; i < n; i++) kept += probs[i]!; }
      else for (let r = 0; r < k; r++) kept += probs[order[r]!]!;
      let acc = 0;
      for (let r = 0; r < keep; r++) {
        acc += probs[order[r]!]! / kept;
        if (acc >= this.topP) {
          keep = r + 1;
          break;
        }
      }
    }
    const kept = new Float64Array(keep); // [keep] f64
    let sum = 0;
    for (let r = 0; r < keep; r++) {
      kept[r] = probs[order[r]!]!;
      sum += kept[r]!;
    }
    probs.fill(0);
    for (let r = 0; r < keep; r++) probs[order[r]!] = kept[r]! / sum;
  }
}

/** The `k` best indices of `values`, descending, ties to the lower index. */
function topIndices(values: Float64Array, k: number): number[] {
  const idx: number[] = [];
  let floor = -Infinity; // the k-th best value so far once k are held
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (idx.length === k && !(x > floor)) continue;
    let j = idx.length === k ? k - 1 : idx.length;
    if (idx.length < k) idx.push(i);
    while (j > 0 && x > values[idx[j - 1]!]!) {
      idx[j] = idx[j - 1]!;
      j--;
    }
    idx[j] = i;
    if (idx.length === k) floor = values[idx[k - 1]!]!;
  }
  return idx;
}

/**
 * Indices sorted descending (ties to the lower index) that are sure to hold
 * the top-p nucleus and the first `k` ranks' share of it: only the tokens at
 * or above a probability floor whose mass already reaches `topP` are sorted.
 */
function nucleusCandidates(probs: Float64Array, k: number, topP: number): number[] {
  let max = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i]! > max) max = probs[i]!;
  for (let floor = max * 1e-3; floor > 0 && k === probs.length; floor *= 1e-3) {
    const idx: number[] = [];
    let mass = 0;
    for (let i = 0; i < probs.length; i++) {
      if (probs[i]! >= floor) {
        idx.push(i);
        mass += probs[i]!;
      }
    }
    if (mass >= topP && floor > 1e-300) {
      return idx.sort((a, b) => probs[b]! - probs[a]! || a - b);
    }
  }
  return Array.from({ length: probs.length }, (_, i) => i).sort(
    (a, b) => probs[b]! - probs[a]! || a - b,
  ).slice(0, k);
}
