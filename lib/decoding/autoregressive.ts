/**
 * Plain autoregressive decoding: the baseline every speculative decoder must
 * reproduce (greedy) or match in distribution (sampling).
 *
 * @module
 */

import type { LanguageModel, TextTokenizer } from "../model/language_model.ts";
import { BaseDecoder, type DecodeRun } from "./base_decoder.ts";
import { checkModel, checkTokenizer, row } from "./_util.ts";
import type { Decoder, DecodingConfig } from "./decoder.ts";

/** Constructor options of {@linkcode AutoregressiveDecoder}. */
export interface AutoregressiveDecoderOptions {
  /** The model. */
  model: LanguageModel;
  /** Its tokenizer. */
  tokenizer: TextTokenizer;
  /** Sampling and length defaults. */
  config?: DecodingConfig;
}

/**
 * One target forward per token.
 *
 * @example Greedy generation
 * ```ts
 * import { AutoregressiveDecoder, CausalLM, Tokenizer } from "@specdec/specdec";
 * using model = await CausalLM.load("models/tiny-target", { maxLength: 128 });
 * const tokenizer = await Tokenizer.load("models/tiny-target");
 * const config = { temperature: 0, maxNewTokens: 16 };
 * const dec = new AutoregressiveDecoder({ model, tokenizer, config });
 * const { text, tokens, metrics } = await dec.generate("def add(a, b):");
 * if (text !== tokenizer.decode(tokens)) throw new Error("unexpected");
 * if (metrics.targetForwards !== tokens.length) throw new Error("unexpected"); // one per token
 * ```
 */
export class AutoregressiveDecoder extends BaseDecoder implements Decoder {
  /** Always `"autoregressive"`. */
  readonly name = "autoregressive";
  /** The model. */
  readonly model: LanguageModel;

  /**
   * Creates the decoder; checks the model, tokenizer and config.
   *
   * @param options Model, tokenizer and config (validated here).
   */
  constructor(options: AutoregressiveDecoderOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("options must be an object");
    }
    checkModel(options.model, "model");
    checkTokenizer(options.tokenizer, options.model.vocabSize, "model");
    super(options.tokenizer, options.config ?? {});
    this.model = options.model;
  }

  /** KV capacity of the model. */
  protected get contextLength(): number {
    return this.model.maxLength;
  }

  /** Vocabulary of the model. */
  protected get vocabSize(): number {
    return this.model.vocabSize;
  }

  /** One token per forward. */
  protected async *_decode(run: DecodeRun): AsyncGenerator<number[], void, undefined> {
    const m = this.model;
    const v = m.vocabSize;
    const pre = await run.metrics.prefill(() => m.prefill(run.promptIds, { logits: "last" }));
    let tok = this._choose(row(pre.logits, v, -1), run.prng);
    yield [tok];
    while (m.kvLength + 1 <= m.maxLength) {
      const pos = m.kvLength;
      const out = await run.metrics.target(() => m.forward([tok], [pos]));
      run.metrics.step(0, 0, 1);
      tok = this._choose(row(out.logits, v, 0), run.prng);
      yield [tok];
    }
  }
}
