// Loads checkpoint folders into ModelParts (CausalLM sessions, tokenizers, Medusa heads).

import { CausalLM, type CausalLMOptions } from "../model/causal_lm.ts";
import { Tokenizer } from "../model/tokenizer.ts";
import { MedusaHeads, type MedusaHeadsOptions } from "../model/medusa_heads.ts";
import { EagleHeads, type EagleHeadsOptions } from "../model/eagle_heads.ts";
import { readModelConfig } from "../model/config.ts";
import { resolveModelPath } from "../model/hub/resolve_model.ts";
import type { LoadRequest } from "./cli_backend.ts";
import type { ModelParts } from "./_decoders.ts";

/** KV rows an EAGLE head keeps beyond the target's context, for one step's tree expansions. */
const EAGLE_EXPANSION_ROWS = 64;

/** Runs `work` under a progress label. */
export type StageRunner = <T>(label: string, work: () => Promise<T>) => Promise<T>;

/** Session options of each model a {@link LoadRequest} asks for. */
export interface SessionOptions {
  /** Options of the target session. */
  target: CausalLMOptions;
  /** Options of the draft session (its `maxLength` is the target's, set once that is loaded). */
  draft: CausalLMOptions;
  /** Options of the Medusa heads session (besides `base`). */
  heads: Omit<MedusaHeadsOptions, "base">;
}

/**
 * Maps a load request to session options: `threads` for the target,
 * `draftThreads` (else `threads`) for the draft and the Medusa heads,
 * `spinning` and `maxLength` as given.
 *
 * @param request Folders, threads and cache size.
 * @returns The options each session is created with.
 */
export function sessionOptions(request: LoadRequest): SessionOptions {
  const common: CausalLMOptions = {};
  if (request.spinning !== undefined) common.spinning = request.spinning;
  if (request.maxLength !== undefined) common.maxLength = request.maxLength;
  const threads = request.threads;
  const draftThreads = request.draftThreads ?? threads;
  // Heads follow the target's precision: they draft through the same LM head it verifies with.
  const weights = request.weights !== undefined ? { weights: request.weights } : {};
  if (request.batchInvariant !== undefined) common.batchInvariant = request.batchInvariant;
  const draftWeights = request.draftWeights ?? request.weights;
  const draftW = draftWeights !== undefined ? { weights: draftWeights } : {};
  return {
    target: threads !== undefined ? { ...common, threads, ...weights } : { ...common, ...weights },
    // A draft's numerics never change the output: it skips the target's batch-invariant
    // padding of one-token forwards.
    draft: draftThreads !== undefined
      ? { ...common, threads: draftThreads, ...draftW, batchInvariant: false }
      : { ...common, ...draftW, batchInvariant: false },
    heads: draftThreads !== undefined ? { threads: draftThreads, ...weights } : { ...weights },
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
        ...options.heads,
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
