/**
 * specdec: speculative decoding for language models in Deno, lossless and
 * fast, over ONNX Runtime through FFI.
 *
 * @module
 */

// --- runtime (lib/runtime) ---
export { SpecDecError, StatusCode } from "./lib/runtime/errors.ts";
export type { StatusCodeValue } from "./lib/runtime/errors.ts";

// --- model (lib/model) ---
export type {
  ForwardOptions,
  ForwardResult,
  LanguageModel,
  PredictionHeads,
  TextTokenizer,
} from "./lib/model/language_model.ts";

// --- decoding (lib/decoding, lib/sampling, lib/tree) ---

// --- cli (lib/cli) ---
