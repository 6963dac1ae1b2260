/**
 * A deterministic pseudo-random language model for tests: logits are a
 * function of the whole attended context (token and position of every slot),
 * stored in a real slot-based cache, so wrong positions, masks, rewinds or
 * compaction change the output and fail the losslessness tests.
 *
 * @module
 */

import type {
  ForwardOptions,
  ForwardResult,
  LanguageModel,
  PredictionHeads,
  TextTokenizer,
} from "../../lib/model/language_model.ts";

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  return (h ^ (h >>> 13)) | 0;
}

/** A uniform-ish value in [-1, 1) from a hash. */
function unit(h: number): number {
  return ((mix(h, 0x27d4eb2f) >>> 0) / 4294967296) * 2 - 1;
}

/** Options of {@linkcode SyntheticLM}. */
export interface SyntheticLMOptions {
  /** Vocabulary size (default 16). */
  vocabSize?: number;
  /** KV capacity (default 256). */
  maxLength?: number;
  /** Seed of the shared bigram table: equal seeds make draft and target agree often. */
  tableSeed?: number;
  /** Seed of the context-dependent part: differs between draft and target. */
  contextSeed?: number;
  /** Weight of the bigram table (peakiness). */
  tableWeight?: number;
  /** Weight of the full-context term. */
  contextWeight?: number;
}

/** A slot-cache synthetic model; `hidden` row `[hiddenSize]` holds a context id. */
export class SyntheticLM implements LanguageModel {
  readonly vocabSize: number;
  readonly hiddenSize = 2;
  readonly maxLength: number;
  #len = 0;
  readonly #tok: Int32Array; // [maxLength] i32: cached token per slot
  readonly #pos: Int32Array; // [maxLength] i32: cached position per slot
  readonly #table: Float32Array; // [vocab, vocab] f32 bigram logits
  readonly #contextSeed: number;
  readonly #tableWeight: number;
  readonly #contextWeight: number;
  /** Context id -> attended (token, position) pairs, for the synthetic heads. */
  readonly contexts: Array<Array<[number, number]>> = [];
  /** Forward calls (prefill included). */
  forwards = 0;
  /** Tokens processed. */
  tokensProcessed = 0;

  constructor(options: SyntheticLMOptions = {}) {
    this.vocabSize = options.vocabSize ?? 16;
    this.maxLength = options.maxLength ?? 256;
    this.#tok = new Int32Array(this.maxLength);
    this.#pos = new Int32Array(this.maxLength);
    this.#contextSeed = options.contextSeed ?? 1;
    this.#tableWeight = options.tableWeight ?? 3;
    this.#contextWeight = options.contextWeight ?? 1.5;
    const v = this.vocabSize;
    this.#table = new Float32Array(v * v);
    const ts = options.tableSeed ?? 7;
    for (let i = 0; i < v * v; i++) this.#table[i] = unit(mix(ts, i));
  }

  get kvLength(): number {
    return this.#len;
  }

  /** Logits of the next token after an attended context of (token, position) pairs. */
  logitsFor(ctx: ReadonlyArray<readonly [number, number]>, out?: Float32Array): Float32Array {
    const v = this.vocabSize;
    const res = out ?? new Float32Array(v); // [vocab] f32
    let h = this.#contextSeed;
    for (const [t, p] of ctx) h = mix(mix(h, t), p);
    const last = ctx[ctx.length - 1]![0];
    for (let i = 0; i < v; i++) {
      res[i] = this.#tableWeight * this.#table[last * v + i]! +
        this.#contextWeight * unit(mix(h, i));
    }
    return res;
  }

  prefill(ids: ArrayLike<number>, options?: ForwardOptions): Promise<ForwardResult> {
    this.reset();
    const pos = Array.from({ length: ids.length }, (_, i) => i);
    return this.forward(ids, pos, options?.hidden ? { hidden: true } : {});
  }

  forward(
    ids: ArrayLike<number>,
    positions: ArrayLike<number>,
    options: ForwardOptions = {},
  ): Promise<ForwardResult> {
    const s = ids.length;
    const v = this.vocabSize;
    if (s < 1 || positions.length !== s) throw new RangeError("ids/positions length");
    if (this.#len + s > this.maxLength) {
      throw new RangeError(`cache overflow: ${this.#len} + ${s} > ${this.maxLength}`);
    }
    const mask = options.treeMask;
    if (mask !== undefined) {
      if (mask.length !== s * s) throw new RangeError("treeMask size");
      for (let i = 0; i < s; i++) {
        if (mask[i * s + i] !== 1) throw new RangeError("treeMask diagonal");
        for (let j = i + 1; j < s; j++) {
          if (mask[i * s + j]) throw new RangeError("not parents-first");
        }
      }
    }
    const base = this.#len;
    for (let i = 0; i < s; i++) {
      const t = ids[i]!;
      if (!Number.isInteger(t) || t < 0 || t >= v) throw new RangeError(`token ${t}`);
      this.#tok[base + i] = t;
      this.#pos[base + i] = positions[i]!;
    }
    const logits = new Float32Array(s * v); // [S, vocab] f32
    const hidden = options.hidden ? new Float32Array(s * this.hiddenSize) : undefined; // [S, 2] f32
    for (let i = 0; i < s; i++) {
      const ctx: Array<[number, number]> = [];
      for (let j = 0; j < base; j++) ctx.push([this.#tok[j]!, this.#pos[j]!]);
      for (let j = 0; j <= i; j++) {
        if (mask === undefined || mask[i * s + j]) {
          ctx.push([this.#tok[base + j]!, this.#pos[base + j]!]);
        }
      }
      this.logitsFor(ctx, logits.subarray(i * v, (i + 1) * v));
      if (hidden) {
        hidden[i * 2] = this.contexts.length;
        hidden[i * 2 + 1] = ctx.length;
        this.contexts.push(ctx);
      }
    }
    this.#len += s;
    this.forwards++;
    this.tokensProcessed += s;
    return Promise.resolve(hidden ? { logits, hidden } : { logits });
  }

  rewind(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.#len) {
      throw new RangeError(`rewind(${length}) with kvLength ${this.#len}`);
    }
    this.#len = length;
  }

  keep(slots: ArrayLike<number>): void {
    const n = slots.length;
    if (n === 0) throw new RangeError("keep: no slots");
    const start = slots[0]!;
    for (let i = 0; i < n; i++) {
      const s = slots[i]!;
      if (s >= this.#len || (i > 0 && s <= slots[i - 1]!)) throw new RangeError("keep: bad slots");
      this.#tok[start + i] = this.#tok[s]!;
      this.#pos[start + i] = this.#pos[s]!;
    }
    this.#len = start + n;
  }

  reset(): void {
    this.#len = 0;
    this.contexts.length = 0;
  }
}

/**
 * Synthetic Medusa heads over a {@linkcode SyntheticLM}: head `k` scores the
 * base model's greedy continuation `k + 2` tokens ahead, plus noise, so its
 * top-1 is often right and its top-k usually holds the truth.
 */
export class SyntheticHeads implements PredictionHeads {
  readonly numHeads: number;
  readonly vocabSize: number;
  readonly #lm: SyntheticLM;
  readonly #noise: number;
  calls = 0;

  constructor(lm: SyntheticLM, numHeads = 4, noise = 1.2) {
    this.#lm = lm;
    this.numHeads = numHeads;
    this.vocabSize = lm.vocabSize;
    this.#noise = noise;
  }

  forward(hidden: Float32Array): Promise<Float32Array> {
    this.calls++;
    const ctx = [...this.#lm.contexts[hidden[0]!]!];
    const v = this.vocabSize;
    const out = new Float32Array(this.numHeads * v); // [numHeads, vocab] f32
    let h = 0x1234567;
    for (const [t, p] of ctx) h = mix(mix(h, t), p);
    // greedy rollout of the base: ctx -> x1 -> x2 ...
    for (let k = 0; k <= this.numHeads; k++) {
      const logits = this.#lm.logitsFor(ctx);
      let best = 0;
      for (let i = 1; i < v; i++) if (logits[i]! > logits[best]!) best = i;
      const pos = ctx[ctx.length - 1]![1] + 1;
      ctx.push([best, pos]);
      if (k === 0) continue;
      for (let i = 0; i < v; i++) {
        out[(k - 1) * v + i] = logits[i]! + this.#noise * 3 * unit(mix(mix(h, k), i));
      }
    }
    return Promise.resolve(out);
  }
}

/** A tokenizer over the synthetic vocabulary: token i is the letter `a + i`; `eos` optional. */
export class SyntheticTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly eosTokenId: number | undefined;
  readonly bosTokenId: number | undefined = undefined;

  constructor(vocabSize = 16, eosTokenId?: number) {
    this.vocabSize = vocabSize;
    this.eosTokenId = eosTokenId;
  }

  encode(text: string): number[] {
    return Array.from(text, (c) => {
      const t = c.charCodeAt(0) - 97;
      if (t < 0 || t >= this.vocabSize) throw new RangeError(`char ${c}`);
      return t;
    });
  }

  decode(ids: ArrayLike<number>): string {
    let s = "";
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === this.eosTokenId) continue;
      s += String.fromCharCode(97 + ids[i]!);
    }
    return s;
  }
}
