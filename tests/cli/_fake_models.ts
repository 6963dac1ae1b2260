// A small deterministic language model and character tokenizer for CLI tests:
// real decoders run over them, so the CLI's output is real decoder output.

import type {
  ForwardOptions,
  ForwardResult,
  LanguageModel,
  TextTokenizer,
} from "../../lib/model/language_model.ts";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz (),:=\n";

/** Character tokenizer over a 33-symbol alphabet; unknown characters are dropped. */
export class CharTokenizer implements TextTokenizer {
  readonly vocabSize = ALPHABET.length;
  readonly eosTokenId = undefined;
  readonly bosTokenId = undefined;
  encode(text: string): number[] {
    return [...text].map((c) => ALPHABET.indexOf(c)).filter((i) => i >= 0);
  }
  decode(ids: ArrayLike<number>): string {
    return Array.from(ids, (i) => ALPHABET[i] ?? "").join("");
  }
}

/**
 * A causal "model" whose next token is a fixed function of the previous one
 * (`(t * mul + add) % vocab`), peaked logits; `noise` shifts which token wins
 * for some inputs, so a draft built with a different `noise` disagrees sometimes.
 */
export class RuleModel implements LanguageModel {
  readonly vocabSize = ALPHABET.length;
  readonly hiddenSize = 4;
  readonly maxLength: number;
  #cache: number[] = [];
  readonly #mul: number;
  readonly #noise: number;

  constructor(maxLength = 256, mul = 5, noise = 0) {
    this.maxLength = maxLength;
    this.#mul = mul;
    this.#noise = noise;
  }

  get kvLength(): number {
    return this.#cache.length;
  }

  next(t: number): number {
    const base = (t * this.#mul + 3) % this.vocabSize;
    return this.#noise > 0 && t % this.#noise === 0 ? (base + 1) % this.vocabSize : base;
  }

  #logits(ids: ArrayLike<number>): Float32Array {
    const v = this.vocabSize;
    const out = new Float32Array(ids.length * v); // [S, vocab] f32
    for (let i = 0; i < ids.length; i++) {
      for (let j = 0; j < v; j++) out[i * v + j] = -((j * 7 + i) % 5) * 0.1;
      out[i * v + this.next(ids[i]!)] = 8;
    }
    return out;
  }

  prefill(ids: ArrayLike<number>, _options?: ForwardOptions): Promise<ForwardResult> {
    this.#cache = [];
    return this.forward(ids, Array.from(ids, (_, i) => i));
  }

  forward(
    ids: ArrayLike<number>,
    _positions: ArrayLike<number>,
    _options?: ForwardOptions,
  ): Promise<ForwardResult> {
    if (this.#cache.length + ids.length > this.maxLength) {
      return Promise.reject(new RangeError("sequence past maxLength"));
    }
    this.#cache.push(...Array.from(ids));
    return Promise.resolve({ logits: this.#logits(ids) });
  }

  rewind(length: number): void {
    this.#cache.length = length;
  }

  keep(slots: ArrayLike<number>): void {
    const s = Array.from(slots);
    const start = s[0] ?? this.#cache.length;
    const kept = s.map((i) => this.#cache[i]!);
    this.#cache = [...this.#cache.slice(0, start), ...kept];
  }

  reset(): void {
    this.#cache = [];
  }
}
