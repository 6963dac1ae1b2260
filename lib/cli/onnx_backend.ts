/**
 * The CLI's real backend: Hugging Face checkpoints loaded into ONNX Runtime
 * sessions (`CausalLM`), with the project's decoders over them.
 *
 * @module
 */

import type { CliBackend, LoadedModels } from "./cli_backend.ts";
import { loadedModels } from "./_decoders.ts";
import { loadModelParts } from "./_load_models.ts";

/**
 * Creates the backend that loads checkpoint folders with `CausalLM.load`
 * (graph build and session creation are shown as progress stages).
 *
 * @returns A {@linkcode CliBackend}.
 *
 * @example Loading the tiny checkpoints
 * ```ts ignore
 * import { onnxBackend } from "@specdec/specdec/cli";
 * using models = await onnxBackend().load(
 *   { model: "models/tiny-target", draft: "models/tiny-draft" },
 *   (_label, work) => work(),
 * );
 * const out = await models.decoder("speculative", { temperature: 0, maxNewTokens: 16, stop: [] })
 *   .generate("def add(a, b):");
 * ```
 */
export function onnxBackend(): CliBackend {
  return {
    async load(request, onStage): Promise<LoadedModels> {
      return loadedModels(await loadModelParts(request, onStage));
    },
  };
}
