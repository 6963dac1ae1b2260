/**
 * The loop shared by every decoder: prompt checks, stop conditions (EOS,
 * maxNewTokens, stop strings, a full cache), abort, streaming text and
 * metrics. Subclasses only yield batches of accepted tokens.
 *
 * @module
 */

import type { TextTokenizer } from "../model/language_model.ts";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";
import { argmax } from "../sampling/argmax.ts";
import { LogitsProcessor } from "../sampling/logits_processor.ts";
import type { TreeVerifierOptions } from "../tree/tree_verifier.ts";
import { Prng } from "../sampling/prng.ts";
import { sampleCategorical } from "../sampling/sample_categorical.ts";
import type {
  DecodingConfig,
  FinishReason,
  GenerateOptions,
  GenerateResult,
  Prompt,
} from "./decoder.ts";
import { MetricsRecorder } from "./metrics_recorder.ts";
import { checkInt } from "./_util.ts";

/** What a decoder's `_decode` loop receives for one call. */
export interface DecodeRun {
  /** Prompt token ids `[n]`, `n >= 1`. */
  promptIds: readonly number[];
  /** The call's seeded random source. */
  prng: Prng;
  /** Counters and timers. */
  metrics: MetricsRecorder;
  /** New tokens still wanted (`>= 1` whenever the loop is resumed). */
  remaining(): number;
}

/** Checks the decoding config shared by all decoders. */
function checkConfig(config: DecodingConfig): void {
  if (config === null || typeof config !== "object") {
    throw new TypeError("config must be an object");
  }
  if (config.maxNewTokens !== undefined) checkInt("maxNewTokens", config.maxNewTokens, 1);
  if (config.seed !== undefined && !Number.isSafeInteger(config.seed)) {
    throw new TypeError(`seed must be a safe integer, got ${config.seed}`);
  }
}

/**
 * Base class of every decoder: prompt checks, stop conditions, streaming,
 * abort and metrics. A new decoder implements `_decode`, an async generator
 * that yields each batch of accepted tokens (the first batch is the token
 * chosen from the prefill) and returns when the cache is full.
 */
export abstract class BaseDecoder {
  /** Short name of the method. */
  abstract readonly name: string;
  /** The tokenizer. */
  readonly tokenizer: TextTokenizer;
  /** Logits processing (temperature, top-k, top-p). */
  readonly processor: LogitsProcessor;
  readonly #maxNewTokens: number;
  readonly #seed: number;
  #busy = false;

  /**
   * Validates the shared config (sampling, maxNewTokens, seed).
   *
   * @param tokenizer The tokenizer.
   * @param config The shared config.
   */
  protected constructor(tokenizer: TextTokenizer, config: DecodingConfig) {
    checkConfig(config);
    this.processor = new LogitsProcessor(config);
    this.tokenizer = tokenizer;
    this.#maxNewTokens = config.maxNewTokens ?? 128;
    this.#seed = config.seed ?? 0;
  }

  /**
   * True when the output is exactly the target's (greedy tokens, or the
   * target's sampling distribution); false for lossy acceptance rules.
   */
  get lossless(): boolean {
    return true;
  }

  /** KV capacity in tokens (the smallest of the models'). */
  protected abstract get contextLength(): number;

  /** Vocabulary size of the target. */
  protected abstract get vocabSize(): number;

  /** Yields batches of accepted tokens until the cache is full (or it is stopped). */
  protected abstract _decode(run: DecodeRun): AsyncGenerator<number[], void, undefined>;

  /** The tree verifier's sampling options: this decoder's temperature, top-k and top-p. */
  protected _verifierOptions(): TreeVerifierOptions {
    const p = this.processor;
    return { temperature: p.temperature, topK: p.topK, topP: p.topP };
  }

  /**
   * Next token from one row of logits: argmax when greedy, else a sample of
   * the processed distribution.
   */
  protected _choose(row: Float32Array, prng: Prng): number {
    if (this.processor.greedy) return argmax(row);
    return sampleCategorical(this.processor.probs(row), prng);
  }

  /**
   * Generates a continuation of `prompt`.
   *
   * @param prompt Text or token ids (non-empty).
   * @param options Per-call options.
   * @returns The text, tokens and metrics.
   */
  async generate(prompt: Prompt, options: GenerateOptions = {}): Promise<GenerateResult> {
    const it = this.#run(prompt, options, false);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
    }
  }

  /**
   * Generates a continuation of `prompt`, yielding text pieces as tokens are
   * accepted; the generator's return value is the full result.
   *
   * @param prompt Text or token ids (non-empty).
   * @param options Per-call options.
   * @returns An async generator of text pieces.
   */
  stream(prompt: Prompt, options: GenerateOptions = {}): AsyncGenerator<string, GenerateResult> {
    return this.#run(prompt, options, true);
  }

  #encode(prompt: Prompt, addBos: boolean): number[] {
    let ids: number[];
    if (typeof prompt === "string") {
      ids = prompt.length === 0 ? [] : this.tokenizer.encode(prompt);
      if (ids.length === 0) throw new RangeError("prompt must not be empty");
      const bos = this.tokenizer.bosTokenId;
      if (addBos && bos !== undefined) ids = [bos, ...ids];
    } else if (prompt !== null && typeof prompt === "object" && "messages" in prompt) {
      const encodeChat = this.tokenizer.encodeChat;
      if (typeof encodeChat !== "function") {
        throw new TypeError("prompt.messages needs a tokenizer with a chat template (encodeChat)");
      }
      ids = encodeChat.call(this.tokenizer, prompt.messages);
      if (ids.length === 0) throw new RangeError("prompt.messages render to no tokens");
    } else if (Array.isArray(prompt) || ArrayBuffer.isView(prompt)) {
      ids = Array.from(prompt);
      if (ids.length === 0) throw new RangeError("prompt must not be empty");
      const v = this.vocabSize;
      for (let i = 0; i < ids.length; i++) {
        const t = ids[i]!;
        if (!Number.isInteger(t) || t < 0 || t >= v) {
          throw new RangeError(`prompt token ${i} must be an integer in [0, ${v}), got ${t}`);
        }
      }
    } else {
      throw new TypeError("prompt must be a string, an array of token ids or { messages }");
    }
    return ids;
  }

  async *#run(
    prompt: Prompt,
    options: GenerateOptions,
    streaming: boolean,
  ): AsyncGenerator<string, GenerateResult, undefined> {
    if (options === null || typeof options !== "object") {
      throw new TypeError("options must be an object");
    }
    const maxNew = options.maxNewTokens === undefined
      ? this.#maxNewTokens
      : checkInt("maxNewTokens", options.maxNewTokens, 1);
    const stops = options.stopStrings ?? [];
    if (!Array.isArray(stops) || stops.some((s) => typeof s !== "string" || s.length === 0)) {
      throw new TypeError("stopStrings must be an array of non-empty strings");
    }
    const seed = options.seed ?? this.#seed;
    if (!Number.isSafeInteger(seed)) {
      throw new TypeError(`seed must be a safe integer, got ${seed}`);
    }
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("signal must be an AbortSignal");
    }
    if (options.baseline !== undefined && !(options.baseline.tokensPerSecond > 0)) {
      throw new RangeError("baseline.tokensPerSecond must be > 0");
    }
    const ids = this.#encode(prompt, options.addBosToken ?? this.tokenizer.addBosToken ?? false);
    const ctx = this.contextLength;
    if (ids.length >= ctx) {
      throw new RangeError(
        `prompt is ${ids.length} tokens but the context holds ${ctx} tokens ` +
          `(the prompt and at least one new token must fit; raise the models' maxLength, ` +
          `--max-length in the CLI, up to max_position_embeddings)`,
      );
    }
    signal?.throwIfAborted();
    if (this.#busy) {
      throw new SpecDecError(
        `${this.name} decoder is already generating: await the previous call first`,
        StatusCode.STATE,
      );
    }
    this.#busy = true;
    const metrics = new MetricsRecorder(ids.length);
    const tokens: number[] = [];
    const eos = new Set(this.tokenizer.eosTokenIds ?? []);
    if (this.tokenizer.eosTokenId !== undefined) eos.add(this.tokenizer.eosTokenId);
    const hold = stops.reduce((m, s) => Math.max(m, s.length - 1), 0);
    let finish: FinishReason = "context";
    let stopText: string | undefined;
    let emitted = "";
    try {
      const gen = this._decode({
        promptIds: ids,
        prng: new Prng(seed),
        metrics,
        remaining: () => maxNew - tokens.length,
      });
      outer: for await (const batch of gen) {
        metrics.firstToken();
        for (const t of batch) {
          tokens.push(t);
          if (eos.has(t)) {
            finish = "eos";
            break outer;
          }
          if (stops.length > 0) {
            const text = this.tokenizer.decode(tokens);
            let at = -1;
            for (const s of stops) {
              const i = text.indexOf(s);
              if (i >= 0 && (at < 0 || i < at)) at = i;
            }
            if (at >= 0) {
              stopText = text.slice(0, at);
              finish = "stop";
              break outer;
            }
          }
          if (tokens.length >= maxNew) {
            finish = "length";
            break outer;
          }
        }
        if (streaming) {
          let stable = this.tokenizer.decode(tokens).replace(/\uFFFD+$/, "");
          if (hold > 0) stable = stable.slice(0, Math.max(0, stable.length - hold));
          if (stable.length > emitted.length && stable.startsWith(emitted)) {
            const piece = stable.slice(emitted.length);
            emitted = stable;
            yield piece;
          }
        }
        signal?.throwIfAborted();
      }
      signal?.throwIfAborted();
    } finally {
      this.#busy = false;
    }
    const text = stopText ?? this.tokenizer.decode(tokens);
    if (streaming && text.length > emitted.length && text.startsWith(emitted)) {
      yield text.slice(emitted.length);
    }
    return {
      text,
      tokens,
      promptTokens: ids.length,
      finishReason: finish,
      metrics: metrics.finish(tokens.length, options.baseline),
    };
  }
}
