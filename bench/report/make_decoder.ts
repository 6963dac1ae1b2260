/**
 * `makeDecoder`: the project's decoder for one benchmark configuration.
 *
 * @module
 */

import {
  AutoregressiveDecoder,
  type Decoder,
  type DecodingConfig,
  DraftTargetDecoder,
  EagleDecoder,
  MedusaDecoder,
  PromptLookupDecoder,
} from "../../mod.ts";
import type { BenchConfig, BenchModels } from "./bench_config.ts";

/**
 * Builds the decoder of a configuration over already loaded models.
 *
 * @param models Target, draft, heads and tokenizer.
 * @param c The configuration.
 * @param maxNewTokens Tokens per generation.
 * @param seed PRNG seed (sampled runs).
 * @returns The decoder.
 * @throws {TypeError} For Medusa or EAGLE without their heads.
 */
export function makeDecoder(
  models: BenchModels,
  c: BenchConfig,
  maxNewTokens: number,
  seed: number,
): Decoder {
  const config: DecodingConfig = { temperature: c.temperature, maxNewTokens, seed };
  const tokenizer = models.tokenizer;
  // The prompt-lookup branch of the drafting methods (absent: none).
  const branch = c.lookup !== undefined && c.lookup > 0 ? { lookupTokens: c.lookup } : {};
  switch (c.method) {
    case "ar":
      return new AutoregressiveDecoder({ model: models.target, tokenizer, config });
    case "speculative":
      return new DraftTargetDecoder({
        draftModel: models.draft,
        targetModel: models.target,
        tokenizer,
        config: {
          ...config,
          ...branch,
          numSpeculativeTokens: c.k ?? 5,
          schedule: c.schedule ?? "constant",
          ...(c.confidence !== undefined ? { confidenceThreshold: c.confidence } : {}),
        },
      });
    case "lookup":
      return new PromptLookupDecoder({
        model: models.target,
        tokenizer,
        config: { ...config, numSpeculativeTokens: c.k ?? 5 },
      });
    case "medusa":
      if (models.heads === undefined) throw new TypeError("medusa runs need Medusa heads");
      return new MedusaDecoder({
        baseModel: models.target,
        heads: models.heads,
        tokenizer,
        config: { ...config, ...branch, treeWidth: c.tree ?? 8 },
      });
    case "eagle": {
      if (models.eagle === undefined) throw new TypeError("eagle runs need an EAGLE head");
      const shape = c.tree !== undefined && c.tree > 0
        ? { treeNodes: c.tree }
        : { treeNodes: 0, numSpeculativeTokens: c.k ?? 4 };
      return new EagleDecoder({
        targetModel: models.target,
        head: models.eagle,
        tokenizer,
        config: { ...config, ...branch, ...shape },
      });
    }
  }
}
