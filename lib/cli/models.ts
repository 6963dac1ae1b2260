/**
 * The CLI's models: what the commands need of them ({@linkcode CliBackend}: load checkpoints
 * once, then make decoders over them), the real backend ({@linkcode onnxBackend}: folders or hub
 * ids loaded with `CausalLM.load`, `Tokenizer.load`, `MedusaHeads.load`, `EagleHeads.load`, by
 * {@linkcode loadModelParts}), the project's decoders over loaded models
 * ({@linkcode loadedModels}). Tests inject their own backend. `runCli` imports this file on
 * the first load, so `--help` and usage errors never load the model code.
 *
 * @module
 */

import type {
  FeatureDrafter,
  LanguageModel,
  PredictionHeads,
  TextTokenizer,
} from "../model/language_model.ts";
import type { WeightPrecision } from "../model/graph/quantize_blockwise.ts";
import type { ActivationPrecision } from "../model/graph/decoder_graph.ts";
import { CausalLM, type CausalLMOptions } from "../model/causal_lm.ts";
import { Tokenizer } from "../model/tokenizer.ts";
import { MedusaHeads, type MedusaHeadsOptions } from "../model/medusa_heads.ts";
import { EagleHeads, type EagleHeadsOptions } from "../model/eagle_heads.ts";
import { readModelConfig } from "../model/config.ts";
import { resolveModelPath } from "../model/hub/resolve_model.ts";
import { AutoregressiveDecoder } from "../decoding/autoregressive.ts";
import { DraftTargetDecoder } from "../decoding/draft_target.ts";
import { MedusaDecoder } from "../decoding/medusa.ts";
import { type EagleConfig, EagleDecoder } from "../decoding/eagle.ts";
import { PromptLookupDecoder } from "../decoding/prompt_lookup.ts";
import type { Decoder, DecodingConfig, GenerateOptions } from "../decoding/decoder.ts";
import type { DecodingMethod } from "./args.ts";
import {
  MEASURED_DEFAULTS,
  type MeasuredDefaults,
  measuredDefaultsFor,
} from "./measured_defaults.ts";
import { toJsonValue } from "./output.ts";

// --- what the commands need of the models ---

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
  /** Weight precision of the target; absent: f32. */
  weights?: WeightPrecision;
  /**
   * Weight precision of the draft and of the Medusa and EAGLE heads; absent: each method's
   * measured drafter precision ({@linkcode MEASURED_DEFAULTS}), else as `weights`.
   */
  draftWeights?: WeightPrecision;
  /**
   * Activations of a q8/q4 draft model and EAGLE head (`CausalLMOptions.activations`,
   * `EagleHeadsOptions.activations`); absent: `int8`, the faster kernels (a drafter's numerics
   * never change the output). Medusa heads keep f32 activations: int8 measured no faster there.
   */
  draftActivations?: ActivationPrecision;
  /**
   * The target's `batchInvariant` (absent: the library's default, on at q8/q4). Plain decoding
   * turns it off: nothing is verified, so the faster one-row kernels are fine.
   */
  batchInvariant?: boolean;
}

/**
 * Decoder settings the CLI passes through; absent `k` / `tree` take the measured defaults at the
 * target's precision ({@linkcode MEASURED_DEFAULTS}), other absent values the decoder's defaults.
 */
export interface DecoderSettings {
  /** Speculation length K (speculative, lookup; EAGLE: the chain length, or the tree's depth). */
  k?: number;
  /** Tree size in nodes (Medusa; EAGLE: draft nodes of its dynamic tree). */
  tree?: number;
  /**
   * Prompt-lookup branch of draft-target, Medusa and EAGLE: most tokens copied from the context
   * into each step's draft, 0 = none; absent: the measured default.
   */
  lookup?: number;
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

// --- the ONNX Runtime backend ---

/**
 * Creates the backend that loads checkpoint folders with `CausalLM.load`
 * (graph build and session creation are shown as progress stages).
 *
 * @returns A {@linkcode CliBackend}.
 *
 * @example Loading the tiny checkpoints
 * ```ts
 * import { onnxBackend } from "@specdec/specdec/cli";
 * using models = await onnxBackend().load(
 *   { model: "models/tiny-target", draft: "models/tiny-draft" },
 *   (_label, work) => work(),
 * );
 * const out = await models.decoder("speculative", { temperature: 0, maxNewTokens: 16, stop: [] })
 *   .generate("def add(a, b):");
 * if (out.tokens.length === 0) throw new Error("unexpected");
 * ```
 */
export function onnxBackend(): CliBackend {
  return {
    async load(request, onStage): Promise<LoadedModels> {
      return loadedModels(await loadModelParts(request, onStage));
    },
  };
}

// --- loading checkpoints ---

/** KV rows an EAGLE head keeps beyond the target's context, for one step's tree expansions. */
const EAGLE_EXPANSION_ROWS = 64;

/** Runs `work` under a progress label. */
export type StageRunner = <T>(label: string, work: () => Promise<T>) => Promise<T>;

/** Session options of each model a {@link LoadRequest} asks for. */
export interface ModelLoadOptions {
  /** Options of the target session. */
  target: CausalLMOptions;
  /** Options of the draft session (its `maxLength` is the target's, set once that is loaded). */
  draft: CausalLMOptions;
  /** Options of the Medusa heads session (besides `base`). */
  heads: Omit<MedusaHeadsOptions, "base">;
  /** Options of the EAGLE head session (besides `base` and `maxLength`). */
  eagle: Omit<EagleHeadsOptions, "base" | "maxLength">;
}

/**
 * Maps a load request to session options: `threads` for the target,
 * `draftThreads` (else `threads`) for the draft and the Medusa and EAGLE heads,
 * `spinning` and `maxLength` as given; the drafters' precision is `draftWeights`, else the
 * method's measured drafter precision ({@linkcode MEASURED_DEFAULTS}), else the target's.
 *
 * @param request Folders, threads and cache size.
 * @returns The options each session is created with.
 */
export function sessionOptions(request: LoadRequest): ModelLoadOptions {
  const common: CausalLMOptions = {};
  if (request.spinning !== undefined) common.spinning = request.spinning;
  if (request.maxLength !== undefined) common.maxLength = request.maxLength;
  const threads = request.threads;
  const draftThreads = request.draftThreads ?? threads;
  const weights = request.weights !== undefined ? { weights: request.weights } : {};
  if (request.batchInvariant !== undefined) common.batchInvariant = request.batchInvariant;
  // A drafter (draft, Medusa heads, EAGLE head) runs at --draft-weights, else at the precision
  // the report measured fastest for its method at the target's precision, else the target's.
  const table = MEASURED_DEFAULTS[request.weights ?? "f32"];
  const drafter = (method: "speculative" | "medusa" | "eagle") => {
    const w = request.draftWeights ?? table[method].drafter ?? request.weights;
    return w !== undefined ? { weights: w } : {};
  };
  // A q8/q4 draft model and EAGLE head multiply with int8 activations unless asked otherwise.
  const quantizedInt8 = <T extends { weights?: WeightPrecision }>(o: T) =>
    o.weights !== undefined && o.weights !== "f32"
      ? { ...o, activations: request.draftActivations ?? "int8" }
      : o;
  const draftW = quantizedInt8(drafter("speculative"));
  const heads = draftThreads !== undefined ? { threads: draftThreads } : {};
  return {
    target: threads !== undefined ? { ...common, threads, ...weights } : { ...common, ...weights },
    // A draft's numerics never change the output: it skips the target's batch-invariant
    // padding of one-token forwards.
    draft: draftThreads !== undefined
      ? { ...common, threads: draftThreads, ...draftW, batchInvariant: false }
      : { ...common, ...draftW, batchInvariant: false },
    heads: { ...heads, ...drafter("medusa") },
    eagle: { ...heads, ...quantizedInt8(drafter("eagle")) },
  };
}

/**
 * Loads the target (and draft, and Medusa heads when asked) with their
 * tokenizers, each session with its options from {@link sessionOptions}.
 * Every model opened so far is closed again when a later one fails.
 */
export async function loadModelParts(
  request: LoadRequest,
  stage: StageRunner,
): Promise<ModelParts> {
  // Hub ids (org/name[@revision]) become folders of the Hugging Face cache, once, here.
  request = { ...request, model: await resolveModelPath(request.model, "model") };
  if (request.draft !== undefined) request.draft = await resolveModelPath(request.draft, "model");
  if (request.medusa !== undefined) {
    request.medusa = await resolveModelPath(request.medusa, "medusa");
  }
  if (request.eagle !== undefined) request.eagle = await resolveModelPath(request.eagle, "eagle");
  const options = sessionOptions(request);
  if (request.draft !== undefined) {
    // One context for both: a draft built for fewer positions than the target caps it.
    const [t, d] = await Promise.all([
      readModelConfig(request.model),
      readModelConfig(request.draft),
    ]);
    const wanted = request.maxLength ?? Math.min(1024, t.maxPositionEmbeddings);
    if (d.maxPositionEmbeddings < wanted) {
      if (request.maxLength !== undefined) {
        throw new RangeError(
          `maxLength ${request.maxLength} exceeds the draft's max_position_embeddings ` +
            `${d.maxPositionEmbeddings} (${request.draft}/config.json)`,
        );
      }
      options.target.maxLength = d.maxPositionEmbeddings;
    }
  }
  const opened: { close(): void }[] = [];
  const closeAll = (): void => {
    for (const m of opened.reverse()) m.close();
    opened.length = 0;
  };
  try {
    const target = await stage(
      `building graph and session for ${request.model}`,
      () => CausalLM.load(request.model, options.target),
    );
    opened.push(target);
    const tokenizer = await Tokenizer.load(request.model, { modelVocabSize: target.vocabSize });
    const parts: ModelParts = { target, tokenizer, close: closeAll };
    if (request.weights !== undefined) parts.weights = request.weights;
    if (request.draft !== undefined) {
      const draftDir = request.draft;
      const draft = await stage(
        `building graph and session for ${draftDir}`,
        () => CausalLM.load(draftDir, { ...options.draft, maxLength: target.maxLength }),
      );
      opened.push(draft);
      parts.draft = draft;
      // A draft shipped with its own tokenizer is checked against the target's by the decoder;
      // one without (sharing the target's) is used with the target's tokenizer.
      if (await fileExists(`${draftDir}/tokenizer.json`)) {
        parts.draftTokenizer = await Tokenizer.load(draftDir, { modelVocabSize: draft.vocabSize });
      }
    }
    if (request.medusa !== undefined) {
      const medusaDir = request.medusa;
      const headOptions: MedusaHeadsOptions = { ...options.heads, base: request.model };
      const heads = await stage(
        `building Medusa heads session for ${medusaDir}`,
        () => MedusaHeads.load(medusaDir, headOptions),
      );
      opened.push(heads);
      parts.heads = heads;
    }
    if (request.eagle !== undefined) {
      const eagleDir = request.eagle;
      // The head's cache holds the target's rows plus one step's tree expansion rows.
      const eagleOptions: EagleHeadsOptions = {
        ...options.eagle,
        base: request.model,
        maxLength: target.maxLength + EAGLE_EXPANSION_ROWS,
      };
      const head = await stage(
        `building EAGLE head session for ${eagleDir}`,
        () => EagleHeads.load(eagleDir, eagleOptions),
      );
      opened.push(head);
      parts.eagle = head;
    }
    return parts;
  } catch (err) {
    closeAll();
    throw err;
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

// --- decoders over loaded models ---

/** Models and tokenizers a {@link LoadedModels} hands to decoders. */
export interface ModelParts {
  /** The target (base) model. */
  target: LanguageModel;
  /** The target's tokenizer (shared by every decoder). */
  tokenizer: TextTokenizer;
  /** The draft model, for `speculative`. */
  draft?: LanguageModel;
  /** The draft's own tokenizer, checked against the target's by the decoder. */
  draftTokenizer?: TextTokenizer;
  /** Medusa heads, for `medusa`. */
  heads?: PredictionHeads;
  /** An EAGLE head, for `eagle`. */
  eagle?: FeatureDrafter;
  /**
   * The target's weight precision: picks the row of {@linkcode MEASURED_DEFAULTS} that settings
   * without `k` / `tree` get; absent: f32.
   */
  weights?: WeightPrecision;
  /** Frees the models (called once by `close()`). */
  close?: () => void;
}

/** Wraps loaded models as {@link LoadedModels}, making the project's decoders on demand. */
export function loadedModels(parts: ModelParts): LoadedModels {
  let closed = false;
  const methods: DecodingMethod[] = ["ar", "lookup"];
  if (parts.draft !== undefined) methods.push("speculative");
  if (parts.heads !== undefined) methods.push("medusa");
  if (parts.eagle !== undefined) methods.push("eagle");
  const close = (): void => {
    if (closed) return;
    closed = true;
    parts.close?.();
  };
  const contextLength = Math.min(
    parts.target.maxLength,
    parts.draft?.maxLength ?? Infinity,
  );
  return {
    tokenizer: parts.tokenizer,
    methods,
    contextLength,
    decoder: (method, settings) =>
      wrap(createDecoder(parts, method, settings), parts.tokenizer, settings),
    close,
    [Symbol.dispose]: close,
  };
}

function baseConfig(s: DecoderSettings): DecodingConfig {
  const config: DecodingConfig = { temperature: s.temperature, maxNewTokens: s.maxNewTokens };
  if (s.topK !== undefined) config.topK = s.topK;
  if (s.topP !== undefined) config.topP = s.topP;
  if (s.seed !== undefined) config.seed = s.seed;
  return config;
}

function createDecoder(
  parts: ModelParts,
  method: DecodingMethod,
  s: DecoderSettings,
): { decoder: Decoder; description: string } {
  const tokenizer = parts.tokenizer;
  // Absent K / tree: the best setting the benchmark report measured at the target's precision
  // (and, when sampling, with sampling).
  const measured = measuredDefaultsFor(parts.weights ?? "f32", s.temperature);
  if (s.lookup !== undefined && s.lookup > 0 && (method === "ar" || method === "lookup")) {
    throw new TypeError(
      `the lookup branch is used by the speculative, medusa and eagle methods, not ${method}`,
    );
  }
  switch (method) {
    case "ar":
      return {
        decoder: new AutoregressiveDecoder({
          model: parts.target,
          tokenizer,
          config: baseConfig(s),
        }),
        description: "autoregressive",
      };
    case "speculative": {
      if (parts.draft === undefined) {
        throw new TypeError("--method speculative needs a draft model");
      }
      const config = {
        ...baseConfig(s),
        numSpeculativeTokens: s.k ?? measured.speculative.k,
        lookupTokens: s.lookup ?? measured.speculative.lookup ?? 0,
      };
      const d = new DraftTargetDecoder({
        draftModel: parts.draft,
        targetModel: parts.target,
        tokenizer,
        ...(parts.draftTokenizer !== undefined ? { draftTokenizer: parts.draftTokenizer } : {}),
        config,
      });
      return {
        decoder: d,
        description: `draft-target (K=${d.numSpeculativeTokens}${branch(d.lookup.tokens)})`,
      };
    }
    case "medusa": {
      if (parts.heads === undefined) throw new TypeError("--method medusa needs Medusa heads");
      const config = {
        ...baseConfig(s),
        treeWidth: s.tree ?? measured.medusa.tree,
        lookupTokens: s.lookup ?? measured.medusa.lookup ?? 0,
      };
      const d = new MedusaDecoder({
        baseModel: parts.target,
        heads: parts.heads,
        tokenizer,
        config,
      });
      return {
        decoder: d,
        description: `medusa (${d.numHeads} heads, ${d.tree.size}-node tree${
          branch(d.lookup.tokens)
        })`,
      };
    }
    case "eagle": {
      if (parts.eagle === undefined) throw new TypeError("--method eagle needs an EAGLE head");
      const config: EagleConfig = {
        ...baseConfig(s),
        ...eagleShape(s, measured.eagle),
        lookupTokens: s.lookup ?? measured.eagle.lookup ?? 0,
      };
      const d = new EagleDecoder({
        targetModel: parts.target,
        head: parts.eagle,
        tokenizer,
        config,
      });
      return { decoder: d, description: `eagle (${describeEagle(d)}${branch(d.lookup.tokens)})` };
    }
    case "lookup": {
      const config = { ...baseConfig(s), numSpeculativeTokens: s.k ?? measured.lookup.k };
      const d = new PromptLookupDecoder({ model: parts.target, tokenizer, config });
      return { decoder: d, description: `prompt lookup (K=${d.numSpeculativeTokens})` };
    }
  }
}

/**
 * EAGLE's draft shape from the CLI's numbers: `tree` alone or with `k` (its depth) is a dynamic
 * tree; `k` alone is a chain of K; neither takes the measured default shape.
 */
function eagleShape(s: DecoderSettings, measured: MeasuredDefaults["eagle"]): EagleConfig {
  if (s.tree !== undefined) {
    return { treeNodes: s.tree, ...(s.k !== undefined ? { numSpeculativeTokens: s.k } : {}) };
  }
  if (s.k !== undefined) return { treeNodes: 0, numSpeculativeTokens: s.k };
  return "tree" in measured
    ? { treeNodes: measured.tree }
    : { treeNodes: 0, numSpeculativeTokens: measured.k };
}

/** The lookup branch in a decoder's description (nothing when off). */
function branch(tokens: number): string {
  return tokens > 0 ? ` + lookup ${tokens}` : "";
}

function describeEagle(d: EagleDecoder): string {
  return d.treeNodes > 0
    ? `${d.treeNodes}-node tree, depth ${d.numSpeculativeTokens}, top-${d.branching}`
    : `chain K=${d.numSpeculativeTokens}`;
}

function wrap(
  made: { decoder: Decoder; description: string },
  tokenizer: TextTokenizer,
  settings: DecoderSettings,
): CliDecoder {
  const { decoder, description } = made;
  return {
    description,
    async generate(prompt, options = {}): Promise<CliGeneration> {
      // Encode once here so `prompt_tokens` are exactly the ids the decoder saw: BOS as the
      // tokenizer adds it (transformers' tokenizer(text)), chat through the chat template.
      let ids: number[];
      if (typeof prompt === "string") {
        ids = prompt.length > 0 ? tokenizer.encode(prompt) : [];
        if (ids.length === 0) throw new RangeError("the prompt encodes to no tokens");
        const bos = tokenizer.bosTokenId;
        if ((settings.addBosToken ?? tokenizer.addBosToken ?? false) && bos !== undefined) {
          ids = [bos, ...ids];
        }
      } else {
        if (typeof tokenizer.encodeChat !== "function") {
          throw new RangeError("this tokenizer has no chat template");
        }
        ids = tokenizer.encodeChat(prompt.messages);
        if (ids.length === 0) throw new RangeError("the chat messages render to no tokens");
      }
      const opts: GenerateOptions = {};
      if (settings.stop.length > 0) opts.stopStrings = settings.stop;
      if (options.signal !== undefined) opts.signal = options.signal;
      let result;
      if (options.onText !== undefined) {
        const it = decoder.stream(ids, opts);
        for (;;) {
          const r = await it.next();
          if (r.done === true) {
            result = r.value;
            break;
          }
          await options.onText(r.value);
        }
      } else {
        result = await decoder.generate(ids, opts);
      }
      const metrics = toJsonValue(result.metrics) as Record<string, unknown>;
      metrics.finishReason = result.finishReason;
      return { text: result.text, tokens: result.tokens, promptTokens: ids, metrics };
    },
  };
}
