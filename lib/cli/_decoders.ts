// The CLI's decoder factory: the project's decoders over already loaded models.

import type {
  FeatureDrafter,
  LanguageModel,
  PredictionHeads,
  TextTokenizer,
} from "../model/language_model.ts";
import { AutoregressiveDecoder } from "../decoding/autoregressive.ts";
import { DraftTargetDecoder } from "../decoding/draft_target.ts";
import { MedusaDecoder } from "../decoding/medusa.ts";
import { type EagleConfig, EagleDecoder } from "../decoding/eagle.ts";
import { PromptLookupDecoder } from "../decoding/prompt_lookup.ts";
import type { Decoder, DecodingConfig, GenerateOptions } from "../decoding/decoder.ts";
import type { DecodingMethod } from "./cli_args.ts";
import type { CliDecoder, CliGeneration, DecoderSettings, LoadedModels } from "./cli_backend.ts";
import { toJsonValue } from "./_metrics.ts";

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
      wrap(makeDecoder(parts, method, settings), parts.tokenizer, settings),
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

function makeDecoder(
  parts: ModelParts,
  method: DecodingMethod,
  s: DecoderSettings,
): { decoder: Decoder; description: string } {
  const tokenizer = parts.tokenizer;
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
        ...(s.k !== undefined ? { numSpeculativeTokens: s.k } : {}),
      };
      const d = new DraftTargetDecoder({
        draftModel: parts.draft,
        targetModel: parts.target,
        tokenizer,
        ...(parts.draftTokenizer !== undefined ? { draftTokenizer: parts.draftTokenizer } : {}),
        config,
      });
      return { decoder: d, description: `draft-target (K=${d.numSpeculativeTokens})` };
    }
    case "medusa": {
      if (parts.heads === undefined) throw new TypeError("--method medusa needs Medusa heads");
      const config = { ...baseConfig(s), ...(s.tree !== undefined ? { treeWidth: s.tree } : {}) };
      const d = new MedusaDecoder({
        baseModel: parts.target,
        heads: parts.heads,
        tokenizer,
        config,
      });
      return {
        decoder: d,
        description: `medusa (${d.numHeads} heads, ${d.tree.size}-node tree)`,
      };
    }
    case "eagle": {
      if (parts.eagle === undefined) throw new TypeError("--method eagle needs an EAGLE head");
      const config: EagleConfig = { ...baseConfig(s), ...eagleShape(s) };
      const d = new EagleDecoder({
        targetModel: parts.target,
        head: parts.eagle,
        tokenizer,
        config,
      });
      return { decoder: d, description: `eagle (${describeEagle(d)})` };
    }
    case "lookup": {
      const config = {
        ...baseConfig(s),
        ...(s.k !== undefined ? { numSpeculativeTokens: s.k } : {}),
      };
      const d = new PromptLookupDecoder({ model: parts.target, tokenizer, config });
      return { decoder: d, description: `prompt lookup (K=${d.numSpeculativeTokens})` };
    }
  }
}

/**
 * EAGLE's draft shape from the CLI's numbers: `tree` alone or with `k` (its depth) is a dynamic
 * tree; `k` alone is a chain of K; neither keeps the decoder's measured defaults.
 */
function eagleShape(s: DecoderSettings): EagleConfig {
  if (s.tree !== undefined) {
    return { treeNodes: s.tree, ...(s.k !== undefined ? { numSpeculativeTokens: s.k } : {}) };
  }
  if (s.k !== undefined) return { treeNodes: 0, numSpeculativeTokens: s.k };
  return {};
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
