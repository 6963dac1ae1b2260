/**
 * Prompt lookup decoding (Saxena 2023; Hugging Face `prompt_lookup_num_tokens`):
 * drafts come from an earlier occurrence of the context's last n-gram, so no
 * draft model is needed; they are verified as a chain by the target.
 *
 * @module
 */

import type { LanguageModel, TextTokenizer } from "../model/language_model.ts";
import { argmax } from "../sampling/argmax.ts";
import { acceptChain } from "../sampling/chain_acceptance.ts";
import { BaseDecoder, type DecodeRun } from "./base_decoder.ts";
import { chainPositions, checkInt, checkModel, checkTokenizer, row } from "./_util.ts";
import type { Decoder, DecodingConfig } from "./decoder.ts";

/** Largest accepted lookup length and n-gram size. */
export const MAX_LOOKUP_TOKENS = 64;

/** Configuration of {@linkcode PromptLookupDecoder}. */
export interface PromptLookupConfig extends DecodingConfig {
  /** K, tokens copied after a match, `1..64`; default 10. */
  numSpeculativeTokens?: number;
  /** Longest n-gram tried first, `minNgramSize..64`; default 3. */
  maxNgramSize?: number;
  /** Shortest n-gram tried, `>= 1`; default 1. */
  minNgramSize?: number;
}

/** Constructor options of {@linkcode PromptLookupDecoder}. */
export interface PromptLookupDecoderOptions {
  /** The model. */
  model: LanguageModel;
  /** Its tokenizer. */
  tokenizer: TextTokenizer;
  /** Lookup, sampling and length settings. */
  config?: PromptLookupConfig;
}

/**
 * Finds the draft for `context`: for n from `maxN` down to `minN`, the most
 * recent earlier occurrence of the last n tokens that is followed by at least
 * one token; returns up to `k` tokens that follow it.
 *
 * @param context Prompt and generated tokens so far.
 * @param k Maximum draft length.
 * @param maxN Longest n-gram.
 * @param minN Shortest n-gram.
 * @returns The drafted tokens (possibly none).
 */
export function lookupDraft(
  context: readonly number[],
  k: number,
  maxN: number,
  minN: number,
): number[] {
  const len = context.length;
  for (let n = Math.min(maxN, len - 1); n >= minN; n--) {
    const tail = len - n;
    for (let start = tail - 1; start >= 0; start--) {
      let match = true;
      for (let j = 0; j < n; j++) {
        if (context[start + j] !== context[tail + j]) {
          match = false;
          break;
        }
      }
      if (match) return context.slice(start + n, Math.min(start + n + k, len)) as number[];
    }
  }
  return [];
}

/**
 * Speculative decoding with n-gram lookup drafts. At temperature > 0 the
 * deterministic drafts are verified with rejection sampling against a point
 * mass (accept with probability `p(x)`), which keeps sampling exact.
 *
 * @example Drafts copied from a repetitive prompt, greedy: the model's own greedy output
 * ```ts
 * import { AutoregressiveDecoder, CausalLM, PromptLookupDecoder, Tokenizer } from "@specdec/specdec";
 * using model = await CausalLM.load("models/tiny-target", { maxLength: 256 });
 * const tokenizer = await Tokenizer.load("models/tiny-target");
 * const prompt = "x = 1\ny = 2\nx = 1\ny = 2\nx = 1\n";
 * const config = { numSpeculativeTokens: 8, temperature: 0, maxNewTokens: 24 };
 * const dec = new PromptLookupDecoder({ model, tokenizer, config });
 * const { tokens, metrics } = await dec.generate(prompt);
 * const ar = new AutoregressiveDecoder({ model, tokenizer, config: { temperature: 0, maxNewTokens: 24 } });
 * if (tokens.join() !== (await ar.generate(prompt)).tokens.join()) throw new Error("unexpected");
 * if (metrics.targetForwards > tokens.length) throw new Error("unexpected");
 * ```
 */
export class PromptLookupDecoder extends BaseDecoder implements Decoder {
  /** Always `"prompt-lookup"`. */
  readonly name = "prompt-lookup";
  /** The model. */
  readonly model: LanguageModel;
  /** K. */
  readonly numSpeculativeTokens: number;
  /** Longest n-gram tried. */
  readonly maxNgramSize: number;
  /** Shortest n-gram tried. */
  readonly minNgramSize: number;

  /**
   * Creates the decoder; checks the model, tokenizer and config.
   *
   * @param options Model, tokenizer and config, validated here.
   */
  constructor(options: PromptLookupDecoderOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("options must be an object");
    }
    checkModel(options.model, "model");
    checkTokenizer(options.tokenizer, options.model.vocabSize, "model");
    const config = options.config ?? {};
    super(options.tokenizer, config);
    this.model = options.model;
    this.numSpeculativeTokens = config.numSpeculativeTokens === undefined
      ? 10
      : checkInt("numSpeculativeTokens", config.numSpeculativeTokens, 1, MAX_LOOKUP_TOKENS);
    this.minNgramSize = config.minNgramSize === undefined
      ? 1
      : checkInt("minNgramSize", config.minNgramSize, 1, MAX_LOOKUP_TOKENS);
    this.maxNgramSize = config.maxNgramSize === undefined
      ? Math.max(3, this.minNgramSize)
      : checkInt("maxNgramSize", config.maxNgramSize, this.minNgramSize, MAX_LOOKUP_TOKENS);
  }

  /** KV capacity of the model. */
  protected get contextLength(): number {
    return this.model.maxLength;
  }

  /** Vocabulary of the model. */
  protected get vocabSize(): number {
    return this.model.vocabSize;
  }

  /** Look up, verify as a chain, keep the accepted prefix. */
  protected async *_decode(run: DecodeRun): AsyncGenerator<number[], void, undefined> {
    const m = this.model;
    const v = m.vocabSize;
    const rec = run.metrics;
    const context = [...run.promptIds];
    const pre = await rec.prefill(() => m.prefill(run.promptIds, { logits: "last" }));
    let pending = this._choose(row(pre.logits, v, -1), run.prng);
    context.push(pending);
    yield [pending];
    for (;;) {
      const p0 = m.kvLength;
      const room = m.maxLength - p0 - 1;
      if (room < 0) return;
      const k = Math.max(0, Math.min(this.numSpeculativeTokens, room, run.remaining() - 1));
      const drafts = k > 0 ? lookupDraft(context, k, this.maxNgramSize, this.minNgramSize) : [];
      const ids = [pending, ...drafts];
      const out = await rec.target(() => m.forward(ids, chainPositions(p0, ids.length)));
      let accepted = 0;
      let next: number;
      if (this.processor.greedy) {
        while (
          accepted < drafts.length && argmax(row(out.logits, v, accepted)) === drafts[accepted]
        ) {
          accepted++;
        }
        next = argmax(row(out.logits, v, accepted));
      } else {
        const p: Float64Array[] = [];
        for (let i = 0; i <= drafts.length; i++) {
          p.push(this.processor.probs(row(out.logits, v, i)));
        }
        const verdict = acceptChain(p, drafts.map(() => null), drafts, run.prng);
        accepted = verdict.accepted;
        next = verdict.token;
      }
      rec.step(drafts.length, accepted, ids.length);
      m.rewind(p0 + 1 + accepted);
      const emitted = [...drafts.slice(0, accepted), next];
      context.push(...emitted);
      pending = next;
      yield emitted;
    }
  }
}
