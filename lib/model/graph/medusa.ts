/**
 * Builds the small ONNX graph of Medusa-1 heads that share the base LM head:
 * `h_k = h + silu(h W_k^T + b_k)` (once per residual block), `logits_k = h_k · lm_head^T`.
 *
 * A second graph rather than extra outputs of the base graph: the decoder
 * needs head logits for one hidden state per step (the last accepted token),
 * while the base forward runs over every tree node; heads inside the base
 * graph would project all S rows through K heads and the `[V, H]` LM head.
 * All K blocks run as one `[K·H, H]` projection and the K LM-head products as one
 * `[K, H] · [H, V]` projection (Gemm, or specdec's packed kernels with `linear: "packed"`; an
 * f32 LM head always stays the base's matrix under Gemm, so it is never copied).
 *
 * Input `hidden` `[1, H]` f32; output `logits` `[K, V]` f32.
 *
 * @module
 */

import { GraphBuilder } from "../onnx/graph_builder.ts";
import type { ExternalTensor } from "../onnx/graph_builder.ts";
import type { ActivationPrecision, LinearKernel, WeightSource } from "./decoder_graph.ts";
import { concatRows, projection, weightPlan } from "./_layers.ts";
import type { WeightPrecision } from "./quantize_blockwise.ts";

/** Shape of a Medusa head set. */
export interface MedusaShape {
  /** Number of heads K. */
  numHeads: number;
  /** Hidden width H. */
  hiddenSize: number;
  /** Vocabulary size V. */
  vocabSize: number;
  /** Residual blocks per head (default 1, Medusa-1's layout). */
  numLayers?: number;
}

/** A built heads graph. */
export interface MedusaGraph {
  /** `ModelProto` bytes. */
  model: Uint8Array;
  /** Weights left out of `model`. */
  externals: Map<string, ExternalTensor>;
}

/**
 * Emits the heads graph.
 *
 * @param shape Head count and widths.
 * @param heads Head weights (`medusa_head.{k}.{j}.linear.weight` `[H, H]`, `.bias` `[H]`, for
 *   block j of head k).
 * @param lmHead The base LM head `[V, H]` f32 (shared, referenced).
 * @param weights Precision of the blocks and the LM head copy (default f32).
 * @param linear The projections' kernel (default `gemm`).
 * @param activations Activations of q8/q4 packed projections (default `f32`).
 * @returns The model bytes and external weights.
 */
export function buildMedusaGraph(
  shape: MedusaShape,
  heads: WeightSource,
  lmHead: Float32Array,
  weights: WeightPrecision = "f32",
  linear: LinearKernel = "gemm",
  activations: ActivationPrecision = "f32",
): MedusaGraph {
  const plan = weightPlan({ maxLength: 1, weights, linear, activations });
  const { numHeads: K, hiddenSize: H, vocabSize: V } = shape;
  const g = new GraphBuilder("medusa");
  const h = g.input("hidden", "float32", [1, H]);
  const ws: Float32Array[] = [];
  const bs: Float32Array[] = [];
  for (let k = 0; k < K; k++) {
    ws.push(heads.float32(`medusa_head.${k}.0.linear.weight`, [H, H]));
    bs.push(heads.float32(`medusa_head.${k}.0.linear.bias`, [H]));
  }
  const b = g.initializer("blocks.bias", concatRows(bs), [K * H]);
  const kh = g.initializer("shape_kh", new BigInt64Array([BigInt(K), BigInt(H)]), [2]);
  const blocks = projection(g, h, "blocks.weight", concatRows(ws), K * H, H, b, plan); // [1, K*H]
  const y = g.op("Reshape", [blocks, kh]); // [K, H]
  let hk = g.op("Add", [h, g.op("Mul", [y, g.op("Sigmoid", [y])])]); // [K, H]
  // Further blocks: each head its own input now, so one projection per head.
  const L = shape.numLayers ?? 1;
  for (let j = 1; j < L; j++) {
    const rows = K === 1
      ? [hk]
      : g.node("Split", [hk], Array.from({ length: K }, () => g.fresh("head")), {
        axis: 0,
        num_outputs: K,
      });
    const outs = rows.map((x, k) => {
      const w = heads.float32(`medusa_head.${k}.${j}.linear.weight`, [H, H]);
      const bk = g.initializer(
        `blocks.${j}.${k}.bias`,
        heads.float32(`medusa_head.${k}.${j}.linear.bias`, [H]),
        [H],
      );
      const yk = projection(g, x, `blocks.${j}.${k}.weight`, w, H, H, bk, plan); // [1, H]
      return g.op("Add", [x, g.op("Mul", [yk, g.op("Sigmoid", [yk])])]); // [1, H]
    });
    hk = K === 1 ? outs[0]! : g.op("Concat", outs, { axis: 0 }); // [K, H]
  }
  // an f32 LM head stays the base's matrix under Gemm: a packed copy would double its memory
  const headPlan = plan.precision === "f32" ? { ...plan, linear: "gemm" as const } : plan;
  const logits = projection(g, hk, "lm_head.weight", lmHead, V, H, undefined, headPlan); // [K, V]
  g.op("Identity", [logits], {}, "", "logits");
  g.output("logits", "float32", [K, V]);
  const opsets: Record<string, number> = { "": 21, "com.microsoft": 1 };
  if (plan.linear === "packed") opsets["specdec"] = 1;
  return { model: g.toModel(opsets), externals: g.externals };
}
