/**
 * The interface every decoder implements, and its options and results.
 *
 * @module
 */

import type { SamplingOptions } from "../sampling/logits_processor.ts";
import type { DecodeMetrics } from "./decode_metrics.ts";

/** Configuration shared by every decoder (fixed at construction). */
export interface DecodingConfig extends SamplingOptions {
  /** Default number of new tokens per call, `>= 1`; default 128. */
  maxNewTokens?: number;
  /** Default PRNG seed (a safe integer); default 0. Each call restarts from its seed. */
  seed?: number;
}

/** Per-call options of {@linkcode Decoder.generate} and {@linkcode Decoder.stream}. */
export interface GenerateOptions {
  /** Stop after this many new tokens (overrides the config), `>= 1`. */
  maxNewTokens?: number;
  /** Stop as soon as the generated text contains one of these; the text is cut before it. */
  stopStrings?: readonly string[];
  /** Aborts generation between steps; the call rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** PRNG seed for this call (overrides the config). */
  seed?: number;
  /**
   * Prepend the tokenizer's BOS token to a text prompt; default: the tokenizer's `addBosToken`
   * (what transformers' `tokenizer(text)` does), else false.
   */
  addBosToken?: boolean;
  /**
   * A measured baseline (for example an `AutoregressiveDecoder` run on the
   * same prompt); when given, `metrics.speedup` is this run's tokens/s over it.
   */
  baseline?: { tokensPerSecond: number };
}

/** Why generation ended. */
export type FinishReason = "eos" | "length" | "stop" | "context";

/** What {@linkcode Decoder.generate} returns. */
export interface GenerateResult {
  /** Decoded new text (special tokens skipped, cut before a stop string). */
  text: string;
  /** New token ids (EOS included when generation ended on it). */
  tokens: number[];
  /** Number of prompt tokens. */
  promptTokens: number;
  /** `"eos"`, `"length"` (maxNewTokens), `"stop"` (a stop string) or `"context"` (KV cache full). */
  finishReason: FinishReason;
  /** Measured counts and timings of this call. */
  metrics: DecodeMetrics;
}

/** A chat prompt: rendered with the tokenizer's chat template (`add_generation_prompt`). */
export interface ChatPrompt {
  /** The conversation, `{ role, content }` each; the model answers as the assistant. */
  messages: readonly { role: string; content: string }[];
}

/** A prompt: text (encoded with the decoder's tokenizer), token ids, or chat messages. */
export type Prompt = string | readonly number[] | ChatPrompt;

/**
 * A text generator over one or more language models.
 */
export interface Decoder {
  /** Short name of the method (`"autoregressive"`, `"draft-target"`, `"medusa"`, `"prompt-lookup"`). */
  readonly name: string;
  /** True when output is exactly the target's (absent: assume true). */
  readonly lossless?: boolean;
  /**
   * Generates a continuation of `prompt`.
   *
   * @param prompt Text or token ids (non-empty).
   * @param options Per-call options.
   * @returns The text, tokens and metrics.
   */
  generate(prompt: Prompt, options?: GenerateOptions): Promise<GenerateResult>;
  /**
   * Generates a continuation of `prompt`, yielding text pieces as tokens are
   * accepted; the generator's return value is the full result.
   *
   * @param prompt Text or token ids (non-empty).
   * @param options Per-call options.
   * @returns An async generator of text pieces.
   */
  stream(
    prompt: Prompt,
    options?: GenerateOptions,
  ): AsyncGenerator<string, GenerateResult, undefined>;
}
