/**
 * Builds the ONNX graph of an EAGLE-1 head: `x = fc([embed(token_{t+1}), f_t])`,
 * one Llama layer over the head's own in-place KV cache (rotary at position
 * `t`, tree mask through `attention_bias`), `hidden = h_t` (the predicted
 * next feature) and `logits = lm_head(norm?(h_t))` for the rows asked for.
 *
 * Inputs: the decoder contract's (`input_ids` `[S]` i64 — here the token
 * after each feature —, `position_ids` `[1, S]` i64, `seqlens_k` `[1]` i32,
 * `total_sequence_length` `[1]` i32, `attention_bias` `[1, 1, S, P + S]` f32,
 * `past_key.0` / `past_value.0` `[1, kvHeads, maxLength, headDim]` f32), plus
 * `features` `[S, H]` f32 and `logit_rows` `[R]` i64 (which rows get logits:
 * the `[V, H]` LM head is the head's largest product, so the correction rows
 * of a decoding step skip it).
 * Outputs: `hidden` `[S, H]` f32, `logits` `[R, V]` f32, `present_key.0` /
 * `present_value.0` (the past buffers, written in place).
 *
 * @module
 */

import { GraphBuilder } from "../onnx/graph_builder.ts";
import type { AttentionShared } from "./_attention.ts";
import { emitLlamaBlock, graphRotaryTables } from "./_llama_block.ts";
import {
  type ActivationPrecision,
  declareDecoderInputs,
  type LinearKernel,
  type WeightSource,
} from "./decoder_graph.ts";
import type { AttentionKind } from "./_attention.ts";
import type { ExternalTensor } from "../onnx/graph_builder.ts";
import { optionalWeight, projection, rmsNorm, rotaryCaches, weightPlan } from "./_layers.ts";
import type { RopeScaling } from "../config.ts";
import type { WeightPrecision } from "./quantize_blockwise.ts";

/** Shape of an EAGLE head. */
export interface EagleShape {
  /** Width H (the base's hidden size). */
  hiddenSize: number;
  /** Vocabulary V (the base's). */
  vocabSize: number;
  /** Query heads. */
  numHeads: number;
  /** Key/value heads. */
  kvHeads: number;
  /** Head width D. */
  headDim: number;
  /** MLP width. */
  intermediateSize: number;
  /** RMS norm epsilon. */
  normEps: number;
  /** Rotary base. */
  ropeTheta: number;
  /** Rotary scaling (default none). */
  ropeScaling?: RopeScaling;
}

/** Options of {@linkcode buildEagleGraph}. */
export interface EagleBuildOptions {
  /** KV capacity in rows. */
  maxLength: number;
  /** Attention operator (default `gqa`). */
  attention?: AttentionKind;
  /** Where rotary is applied (default: in attention when `headDim % 16 == 0`). */
  rotary?: "attention" | "graph";
  /** Precision of the projections and the LM head copy (default f32: the LM head is shared). */
  weights?: WeightPrecision;
  /** The projections' kernel (default `gemm`); an f32 LM head always stays the shared Gemm. */
  linear?: LinearKernel;
  /** Activations of q8/q4 packed projections (default `f32`; `int8`: `act_bits` 8). */
  activations?: ActivationPrecision;
}

/** A built EAGLE head graph. */
export interface EagleGraph {
  /** `ModelProto` bytes. */
  model: Uint8Array;
  /** Weights left out of `model`. */
  externals: Map<string, ExternalTensor>;
}

/**
 * Emits the head graph.
 *
 * @param shape The head's widths.
 * @param head The head's weights (`fc.*`, `layers.0.*`, optional `norm.weight`).
 * @param embed The base embedding `[V, H]` f32 (shared).
 * @param lmHead The base LM head `[V, H]` f32 (may be `embed` itself when tied).
 * @param options KV capacity, attention and rotary placement.
 * @returns The model bytes and external weights.
 */
export function buildEagleGraph(
  shape: EagleShape,
  head: WeightSource,
  embed: Float32Array,
  lmHead: Float32Array,
  options: EagleBuildOptions,
): EagleGraph {
  const { hiddenSize: H, vocabSize: V, headDim: D } = shape;
  const g = new GraphBuilder("eagle");
  const inp = declareDecoderInputs(g);
  const features = g.input("features", "float32", ["S", H]);
  const rows = g.input("logit_rows", "int64", ["R"]);
  const inAttention = D % 16 === 0 && options.rotary !== "graph";
  const [cos, sin] = rotaryCaches(options.maxLength, D, shape.ropeTheta, shape.ropeScaling);
  const cosName = g.initializer("cos_cache", cos, [options.maxLength, D / 2]);
  const sinName = g.initializer("sin_cache", sin, [options.maxLength, D / 2]);
  const shared: AttentionShared = {
    seqlensK: inp.seqlensK,
    totalSequenceLength: inp.total,
    attentionBias: inp.bias,
    ...(inAttention ? { rotary: { positionIds: inp.positions, cos: cosName, sin: sinName } } : {}),
  };
  const plan = weightPlan({
    maxLength: options.maxLength,
    weights: options.weights ?? "f32",
    linear: options.linear ?? "gemm",
    activations: options.activations ?? "f32",
  });
  const embedName = g.initializer("embed_tokens.weight", embed, [V, H], { external: true });
  const e = g.op("Gather", [embedName, inp.ids], { axis: 0 }); // [S, H] f32
  const cat = g.op("Concat", [e, features], { axis: 1 }); // [S, 2H] f32
  const fcW = head.float32("fc.weight", [H, 2 * H]); // [H, 2H] f32
  const fcB = optionalWeight(g, head, "fc.bias", [H], true);
  const x = projection(g, cat, "fc.weight", fcW, H, 2 * H, fcB, plan); // [S, H] f32
  const h = emitLlamaBlock(g, head, x, {
    prefix: "layers.0",
    index: 0,
    hiddenSize: H,
    intermediateSize: shape.intermediateSize,
    numHeads: shape.numHeads,
    kvHeads: shape.kvHeads,
    headDim: D,
    normEps: shape.normEps,
    maxLength: options.maxLength,
    attention: options.attention ?? "gqa",
    shared,
    graphRotary: inAttention ? undefined : graphRotaryTables(g, inp.positions, cosName, sinName),
    external: true,
    plan,
    optionalInputNorm: true,
  }); // [S, H] f32
  g.op("Identity", [h], {}, "", "hidden");
  g.output("hidden", "float32", ["S", H]);
  let sel = g.op("Gather", [h, rows], { axis: 0 }); // [R, H] f32
  const normW = optionalWeight(g, head, "norm.weight", [H], true);
  if (normW) sel = rmsNorm(g, sel, normW, shape.normEps);
  if (plan.precision === "f32") {
    // f32: the LM head is the base's matrix itself (the embedding's initializer when tied)
    const headName = lmHead === embed
      ? embedName
      : g.initializer("lm_head.weight", lmHead, [V, H], { external: true });
    g.op("Gemm", [sel, headName], { transB: 1 }, "", "logits");
  } else {
    const y = projection(g, sel, "lm_head.weight", lmHead, V, H, undefined, plan); // [R, V]
    g.op("Identity", [y], {}, "", "logits");
  }
  g.output("logits", "float32", ["R", V]);
  const opsets: Record<string, number> = { "": 21, "com.microsoft": 1 };
  if (options.attention === "tree" || plan.linear === "packed") opsets["specdec"] = 1;
  return { model: g.toModel(opsets), externals: g.externals };
}
