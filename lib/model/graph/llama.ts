/**
 * Builds the ONNX decoder graph of a Llama-family checkpoint (Llama, Mistral,
 * Qwen2 with q/k/v biases, SmolLM; tied or untied LM head) following the
 * {@link ./decoder_graph.ts} contract.
 *
 * Fused projections: q/k/v become one `[Q + 2KV, H]` Gemm feeding packed QKV to
 * attention; on a CPU at small S a single larger product is cheaper than three
 * small ones. Gate/up: with specdec's packed kernels one op computes both
 * projections and `silu(gate) * up` (`glu`); with Gemm / MatMulNBits one `[2I, H]`
 * product, Split and the activation ops. Rotary is applied inside
 * GroupQueryAttention (`do_rotary`, cos/sin caches, `position_ids`) when the head
 * width is a multiple of 16, else in the graph before attention (rotate-half on
 * the q and k parts of the packed projections).
 *
 * @module
 */

import { GraphBuilder } from "../onnx/graph_builder.ts";
import type { ModelConfig } from "../config.ts";
import type { AttentionShared } from "./_attention.ts";
import { emitLlamaBlockDeferred, graphRotaryTables, type Residual } from "./_llama_block.ts";
import {
  type BuildOptions,
  declareDecoderInputs,
  type DecoderGraph,
  type WeightSource,
} from "./decoder_graph.ts";
import {
  addRmsNorm,
  decoderGraph,
  embedding,
  emitHead,
  rmsNorm,
  rotaryCaches,
  weight,
  weightPlan,
} from "./_layers.ts";

/**
 * Emits the graph of a Llama-family checkpoint.
 *
 * @param config The normalised config (`family: "llama"`).
 * @param w The weights.
 * @param options KV capacity, attention operator, external weights.
 * @returns The model bytes and the weights to hand over by reference.
 */
export function buildLlamaGraph(
  config: ModelConfig,
  w: WeightSource,
  options: BuildOptions,
): DecoderGraph {
  const plan = weightPlan(options);
  const ext = plan.external;
  const { hiddenSize: H, numHeads: NH, numKvHeads: KV, headDim: D, vocabSize: V } = config;
  const L = config.numLayers;
  const g = new GraphBuilder(config.modelType, options.sink);
  const inp = declareDecoderInputs(g);
  // GroupQueryAttention's built-in rotary needs D % 16 == 0; other widths rotate in the graph.
  const inAttention = D % 16 === 0 && options.rotary !== "graph";
  // GroupQueryAttention wants a row per KV slot (it checks rows >= total sequence length).
  const rows = options.kvSlots ?? options.maxLength;
  const [cos, sin] = rotaryCaches(rows, D, config.ropeTheta, config.ropeScaling);
  const cosName = g.initializer("cos_cache", cos, [rows, D / 2]);
  const sinName = g.initializer("sin_cache", sin, [rows, D / 2]);
  const shared: AttentionShared = {
    seqlensK: inp.seqlensK,
    totalSequenceLength: inp.total,
    attentionBias: inp.bias,
    ...(inAttention ? { rotary: { positionIds: inp.positions, cos: cosName, sin: sinName } } : {}),
  };
  const graphRotary = inAttention
    ? undefined
    : graphRotaryTables(g, inp.positions, cosName, sinName);
  const embedName = "model.embed_tokens.weight";
  const emb = embedding(g, embedName, w.float32(embedName, [V, H]), [V, H], inp.ids, plan);
  // The residual stream [S, H] f32; each layer's last addition is fused into the next norm.
  let r: Residual = { x: emb.embedded };
  for (let l = 0; l < L; l++) {
    r = emitLlamaBlockDeferred(g, w, r, {
      prefix: `model.layers.${l}`,
      index: l,
      hiddenSize: H,
      intermediateSize: config.intermediateSize,
      numHeads: NH,
      kvHeads: KV,
      headDim: D,
      normEps: config.normEps,
      maxLength: options.kvSlots ?? options.maxLength, // KV buffer slots
      attention: options.attention ?? "gqa",
      shared,
      graphRotary,
      external: ext,
      plan,
    });
  }
  const normW = weight(g, w, "model.norm.weight", [H], ext);
  const untied = w.has("lm_head.weight") && !config.tieWordEmbeddings;
  const normed = r.delta === undefined
    ? rmsNorm(g, r.x, normW, config.normEps)
    : addRmsNorm(g, r.x, r.delta, normW, config.normEps).normed; // [S, H] f32
  emitHead(g, normed, config, plan, {
    name: untied ? "lm_head.weight" : "model.embed_tokens.weight",
    data: () => w.float32(untied ? "lm_head.weight" : embedName, [V, H]),
    ...(untied || !emb.table ? {} : { initializer: emb.table }),
    ...(untied || !emb.quantized ? {} : { quantized: emb.quantized }),
  });
  return decoderGraph(g, config, options);
}
