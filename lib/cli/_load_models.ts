// Loads checkpoint folders into ModelParts (CausalLM sessions, tokenizers, Medusa heads).

import { CausalLM, type CausalLMOptions } from "../model/causal_lm.ts";
import { Tokenizer } from "../model/tokenizer.ts";
import { MedusaHeads, type MedusaHeadsOptions } from "../model/medusa_heads.ts";
import type { LoadRequest } from "./cli_backend.ts";
import type { ModelParts } from "./_decoders.ts";

/** Runs `work` under a progress label. */
export type StageRunner = <T>(label: string, work: () => Promise<T>) => Promise<T>;

/**
 * Loads the target (and draft, and Medusa heads when asked) with their
 * tokenizers. Every model opened so far is closed again when a later one fails.
 */
export async function loadModelParts(
  request: LoadRequest,
  stage: StageRunner,
): Promise<ModelParts> {
  const options: CausalLMOptions = {};
  if (request.threads !== undefined) options.threads = request.threads;
  if (request.spinning !== undefined) options.spinning = request.spinning;
  if (request.maxLength !== undefined) options.maxLength = request.maxLength;
  const opened: { close(): void }[] = [];
  const closeAll = (): void => {
    for (const m of opened.reverse()) m.close();
    opened.length = 0;
  };
  try {
    const target = await stage(
      `building graph and session for ${request.model}`,
      () => CausalLM.load(request.model, options),
    );
    opened.push(target);
    const tokenizer = await Tokenizer.load(request.model, { modelVocabSize: target.vocabSize });
    const parts: ModelParts = { target, tokenizer, close: closeAll };
    if (request.draft !== undefined) {
      const draftDir = request.draft;
      const draft = await stage(
        `building graph and session for ${draftDir}`,
        () => CausalLM.load(draftDir, { ...options, maxLength: target.maxLength }),
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
      const headOptions: MedusaHeadsOptions = { base: request.model };
      if (request.threads !== undefined) headOptions.threads = request.threads;
      const heads = await stage(
        `building Medusa heads session for ${medusaDir}`,
        () => MedusaHeads.load(medusaDir, headOptions),
      );
      opened.push(heads);
      parts.heads = heads;
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
