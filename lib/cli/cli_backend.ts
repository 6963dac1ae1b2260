/**
 * What the CLI needs from the model and decoding layers, as one small
 * interface: load checkpoints once, then make decoders over them. The real
 * backend (ONNX Runtime checkpoints and the project's decoders) lives in
 * `_onnx_backend.ts`; tests may inject their own.
 *
 * @module
 */

import type { WeightPrecision } from "../model/graph/quantize_blockwise.ts";
import type { TextTokenizer } from "../model/language_model.ts";
import type { DecodingMethod } from "./cli_args.ts";

/** Checkpoint folders to load. */
export interface LoadRequest {
  /** Target (base) model folder with `config.json`, `model.safetensors`, `tokenizer.json`. */
  model: string;
  /** Draft model folder, needed by `speculative`. */
  draft?: string;
  /** Medusa heads folder, needed by `medusa`. */
  medusa?: string;
  /** EAGLE head folder, needed by `eagle`. */
  eagle?: string;
  /** ONNX Runtime intra-op threads of the target session; absent: the runtime's default. */
  threads?: number;
  /**
   * ONNX Runtime intra-op threads of the draft session and of the Medusa heads session;
   * absent: the same as `threads`. A small draft can lose more to thread synchronisation than
   * it gains from a second core, while the target it alternates with gains.
   */
  draftThreads?: number;
  /** Let idle ONNX Runtime threads spin between runs; absent: the runtime's default. */
  spinning?: boolean;
  /** KV cache capacity in tokens (prompt + generation + speculation); absent: the model's context. */
  maxLength?: number;
  /** Weight precision of the target and of the Medusa heads; absent: f32. */
  weights?: WeightPrecision;
  /** Weight precision of the draft; absent: as `weights`. */
  draftWeights?: WeightPrecision;
  /**
   * The target's `batchInvariant` (absent: the library's default, on at q8/q4). Plain decoding
   * turns it off: nothing is verified, so the faster one-row kernels are fine.
   */
  batchInvariant?: boolean;
}

/** Decoder settings the CLI passes through; absent values take the decoder's defaults. */
export interface DecoderSettings {
  /** Speculation length K (speculative, lookup; EAGLE: the chain length, or the tree's depth). */
  k?: number;
  /** Tree size in nodes (Medusa; EAGLE: draft nodes of its dynamic tree). */
  tree?: number;
  /** Sampling temperature, 0 = greedy. */
  temperature: number;
  /** Top-k filter, 0 = off. */
  topK?: number;
  /** Nucleus filter in (0, 1]. */
  topP?: number;
  /** PRNG seed. */
  seed?: number;
  /** Tokens to generate at most. */
  maxNewTokens: number;
  /** Stop strings. */
  stop: string[];
  /** Prepend BOS to text prompts; absent: as the tokenizer does (its post-processor). */
  addBosToken?: boolean;
}

/** A chat prompt: rendered with the target tokenizer's chat template. */
export interface CliChatPrompt {
  /** The conversation, `{ role, content }` each; the model answers as the assistant. */
  messages: { role: string; content: string }[];
}

/** One generation's result, JSON-ready. */
export interface CliGeneration {
  /** Generated text (without the prompt). */
  text: string;
  /** Generated token ids. */
  tokens: number[];
  /** Prompt token ids as the decoder saw them. */
  promptTokens: number[];
  /**
   * The decoder's metrics, camelCase, with typed arrays turned into plain
   * arrays: at least `acceptanceRate`, `meanAcceptedLength`,
   * `tokensPerSecond`, `wallTimeMs`, `targetForwards`.
   */
  metrics: Record<string, unknown>;
}

/** A ready decoder over loaded models. */
export interface CliDecoder {
  /** Human-readable description, e.g. `speculative (K=5)`. */
  readonly description: string;
  /**
   * Generates a continuation of `prompt`.
   *
   * @param prompt The prompt text, or chat messages.
   * @param options `onText` receives text pieces as tokens are accepted; `signal` aborts.
   * @returns Text, tokens, prompt tokens and metrics.
   */
  generate(
    prompt: string | CliChatPrompt,
    options?: { onText?: (piece: string) => Promise<void> | void; signal?: AbortSignal },
  ): Promise<CliGeneration>;
}

/** Models loaded once, shared by several decoders (the demo runs two over one target). */
export interface LoadedModels extends Disposable {
  /** The shared tokenizer. */
  readonly tokenizer: TextTokenizer;
  /** Methods these models can run (`speculative` needs a draft, `medusa` and `eagle` heads). */
  readonly methods: readonly DecodingMethod[];
  /** KV capacity shared by the loaded models, in tokens (prompt + generation), when known. */
  readonly contextLength?: number;
  /**
   * Makes a decoder; throws `TypeError`/`RangeError` for bad settings.
   *
   * @param method Decoding method.
   * @param settings Sampling and speculation settings.
   * @returns A decoder sharing these models.
   */
  decoder(method: DecodingMethod, settings: DecoderSettings): CliDecoder;
  /** Frees every model (idempotent). */
  close(): void;
}

/** Loads checkpoints; `onStage` is told each slow stage so the CLI can show progress. */
export interface CliBackend {
  /**
   * Loads the requested checkpoints.
   *
   * @param request Folders, threads and cache size.
   * @param onStage Called with a stage label and the work to run under it.
   * @returns The loaded models.
   */
  load(
    request: LoadRequest,
    onStage: <T>(label: string, work: () => Promise<T>) => Promise<T>,
  ): Promise<LoadedModels>;
}
