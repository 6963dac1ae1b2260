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
 * import { LogitsProcessor } from "./logits_processor.ts";
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
    // descending by probability, ties by lower index
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
      probs[b]! - probs[a]! || a - b
    );
    let keep = this.topK > 0 ? Math.min(this.topK, n) : n;
    if (this.topP < 1) {
      let kept = 0;
      for (let r = 0; r < keep; r++) kept += probs[order[r]!]!;
      let acc = 0;
      for (let r = 0; r < keep; r++) {
        acc += probs[order[r]!]! / kept;
        if (acc >= this.topP) {
          keep = r + 1;
          break;
        }
      }
    }
    let sum = 0;
    for (let r = 0; r < n; r++) {
      const i = order[r]!;
      if (r < keep) sum += probs[i]!;
      else probs[i] = 0;
    }
    for (let i = 0; i < n; i++) probs[i] = probs[i]! / sum;
  }
}
