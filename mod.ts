/**
 * specdec: speculative decoding for language models in Deno, lossless and
 * fast, over ONNX Runtime through FFI.
 *
 * @module
 */

// --- runtime (lib/runtime) ---
export { SpecDecError, StatusCode } from "./lib/runtime/errors.ts";
export type { StatusCodeValue } from "./lib/runtime/errors.ts";
export { Environment } from "./lib/runtime/environment.ts";
export type { EnvironmentOptions } from "./lib/runtime/environment.ts";
export { Session } from "./lib/runtime/session.ts";
export type { RunOptions, SessionOptions, TensorInfo, TensorMap } from "./lib/runtime/session.ts";
export {
  checkTensor,
  DTYPE_INFO,
  dtypeFromCode,
  elementCount,
  tensor,
} from "./lib/runtime/tensor.ts";
export type { DType, DTypeData, Tensor, TensorData } from "./lib/runtime/tensor.ts";
export { kvKeep } from "./lib/runtime/kv_keep.ts";
export type { KvLayout } from "./lib/runtime/kv_keep.ts";
export { cpuKernelLevel, cudaAvailable, nativeVersions } from "./lib/runtime/library.ts";
export type { NativeVersions } from "./lib/runtime/library.ts";

// --- model (lib/model) ---
export type {
  DrafterForwardOptions,
  DrafterResult,
  FeatureDrafter,
  ForwardOptions,
  ForwardResult,
  LanguageModel,
  PredictionHeads,
  TextTokenizer,
} from "./lib/model/language_model.ts";
export { CausalLM } from "./lib/model/causal_lm.ts";
export type { CausalLMOptions } from "./lib/model/causal_lm.ts";
export type { AttentionKind } from "./lib/model/graph/decoder_graph.ts";
export type { QuantizationOptions } from "./lib/model/graph/decoder_graph.ts";
export type { ActivationPrecision, LinearKernel } from "./lib/model/graph/decoder_graph.ts";
export type { CacheStatus } from "./lib/model/prepared_cache.ts";
export {
  cacheMaxBytes,
  DEFAULT_CACHE_MAX_GB,
  prunePreparedCache,
} from "./lib/model/prune_prepared_cache.ts";
export type { PruneOptions, PruneReport } from "./lib/model/prune_prepared_cache.ts";
export {
  dequantizeBlockwise,
  quantizeBlockwise,
  WEIGHT_PRECISIONS,
} from "./lib/model/graph/quantize_blockwise.ts";
export type {
  QuantizedWeight,
  QuantizeOptions,
  WeightPrecision,
} from "./lib/model/graph/quantize_blockwise.ts";
export { MedusaHeads } from "./lib/model/medusa_heads.ts";
export type { MedusaHeadsOptions } from "./lib/model/medusa_heads.ts";
export { EagleHeads, readEagleConfig } from "./lib/model/eagle_heads.ts";
export type { EagleHeadConfig, EagleHeadsOptions } from "./lib/model/eagle_heads.ts";
export { OnnxDecoder } from "./lib/model/onnx_decoder.ts";
export type { OnnxDecoderOptions } from "./lib/model/onnx_decoder.ts";
export { Tokenizer } from "./lib/model/tokenizer.ts";
export type { TokenizerOptions } from "./lib/model/tokenizer.ts";
export { ChatTemplate, checkMessages } from "./lib/model/chat_template.ts";
export type { ChatMessage, ChatRenderOptions } from "./lib/model/chat_template.ts";
export { eosIds, readGenerationConfig } from "./lib/model/generation_config.ts";
export type { GenerationConfig } from "./lib/model/generation_config.ts";
export { resolveModelPath } from "./lib/model/hub/resolve_model.ts";
export type { ModelFiles, ResolveModelOptions } from "./lib/model/hub/resolve_model.ts";
export { hubCacheDir, hubDownload, hubOffline } from "./lib/model/hub/hub_download.ts";
export type { HubDownloadOptions } from "./lib/model/hub/hub_download.ts";
export type { ProgressSink } from "./lib/util/progress_bar.ts";
export { parseHubId } from "./lib/model/hub/hub_id.ts";
export type { HubId } from "./lib/model/hub/hub_id.ts";
export { SafeTensors } from "./lib/model/safetensors.ts";
export type { TensorInfo as SafeTensorInfo } from "./lib/model/safetensors.ts";
export { parseModelConfig, readModelConfig } from "./lib/model/config.ts";
export type { ModelConfig, ModelFamily, RopeScaling } from "./lib/model/config.ts";

// --- decoding (lib/decoding, lib/sampling, lib/tree) ---
export { AutoregressiveDecoder } from "./lib/decoding/autoregressive.ts";
export type { AutoregressiveDecoderOptions } from "./lib/decoding/autoregressive.ts";
export { DraftTargetDecoder, MAX_SPECULATIVE_TOKENS } from "./lib/decoding/draft_target.ts";
export type {
  DraftTargetDecoderOptions,
  SpeculationSchedule,
  SpeculativeDecodingConfig,
} from "./lib/decoding/draft_target.ts";
export { MedusaDecoder } from "./lib/decoding/medusa.ts";
export type { MedusaConfig, MedusaDecoderOptions } from "./lib/decoding/medusa.ts";
export {
  DEFAULT_EAGLE_CHAIN,
  DEFAULT_EAGLE_TREE_NODES,
  EagleDecoder,
  eagleTreeShape,
  MAX_EAGLE_DEPTH,
  MAX_EAGLE_TREE_NODES,
} from "./lib/decoding/eagle.ts";
export type {
  EagleConfig,
  EagleDecoderOptions,
  EagleTreeCandidates,
  EagleTreeShape,
} from "./lib/decoding/eagle.ts";
export {
  lookupDraft,
  MAX_LOOKUP_TOKENS,
  PromptLookupDecoder,
} from "./lib/decoding/prompt_lookup.ts";
export type {
  PromptLookupConfig,
  PromptLookupDecoderOptions,
} from "./lib/decoding/prompt_lookup.ts";
export type { LookupBranch, LookupBranchConfig } from "./lib/decoding/lookup_branch.ts";
export type {
  ChatPrompt,
  Decoder,
  DecodingConfig,
  FinishReason,
  GenerateOptions,
  GenerateResult,
  Prompt,
} from "./lib/decoding/decoder.ts";
export type { DecodeMetrics } from "./lib/decoding/decode_metrics.ts";
export { BaseDecoder } from "./lib/decoding/base_decoder.ts";
export type { DecodeRun } from "./lib/decoding/base_decoder.ts";
export { MetricsRecorder } from "./lib/decoding/metrics_recorder.ts";
export { LogitsProcessor, validateSamplingOptions } from "./lib/sampling/logits_processor.ts";
export type { SamplingOptions } from "./lib/sampling/logits_processor.ts";
export { Prng } from "./lib/sampling/prng.ts";
export { argmax } from "./lib/sampling/argmax.ts";
export { sampleCategorical } from "./lib/sampling/sample_categorical.ts";
export { acceptChain } from "./lib/sampling/chain_acceptance.ts";
export type { ChainVerdict } from "./lib/sampling/chain_acceptance.ts";
export { acceptSiblings } from "./lib/sampling/sibling_acceptance.ts";
export type { SiblingVerdict } from "./lib/sampling/sibling_acceptance.ts";
export { typicalAccepts } from "./lib/sampling/typical_acceptance.ts";
export { SpeculationTree } from "./lib/tree/speculation_tree.ts";
export { TreeVerifier } from "./lib/tree/tree_verifier.ts";
export type { TreeAcceptance, TreeVerdict, TreeVerifierOptions } from "./lib/tree/tree_verifier.ts";
export { MC_SIM_7B_63, MEDUSA_TREE_SIZES, medusaChoices } from "./lib/tree/medusa_choices.ts";

// --- formatting (lib/util) ---
export { formatNumber } from "./lib/util/format_number.ts";
export type { NumberFormatter } from "./lib/util/format_number.ts";

// The CLI is its own entry, `cli.ts` (exported as `./cli`). Run as the main module, mod.ts hands
// over to it: `deno run -A mod.ts <command>` (see `mod.ts --help`).
if (import.meta.main) {
  const { cliMain } = await import("./lib/cli/run_cli.ts");
  await cliMain();
}
