/**
 * One Llama decoder layer (attention with in-place KV, gated MLP) and the
 * rotary helpers, shared by the Llama decoder graph ({@link ./llama.ts}) and
 * the EAGLE head graph ({@link ./eagle.ts}).
 *
 * @module
 */

import type { GraphBuilder } from "../onnx/graph_builder.ts";
import { type AttentionKind, type AttentionShared, emitAttention } from "./_attention.ts";
import type { WeightSource } from "./decoder_graph.ts";
import {
  addRmsNorm,
  concatRows,
  gatedMlp,
  optionalWeight,
  projection,
  rmsNorm,
  weight,
  type WeightPlan,
  weightPlan,
} from "./_layers.ts";

/** Rotary tables gathered once per forward: cos/sin `[S, 1, D/2]` f32. */
export interface RotaryTables {
  /** Cosines `[S, 1, D/2]` f32. */
  cos: string;
  /** Sines `[S, 1, D/2]` f32. */
  sin: string;
}

/**
 * Gathers the rotary rows of the forward's positions (for rotary in the graph).
 *
 * @param g The graph.
 * @param positions `position_ids` `[1, S]` i64.
 * @param cosCache `[maxPos, D/2]` f32.
 * @param sinCache `[maxPos, D/2]` f32.
 * @returns The gathered tables.
 */
export function graphRotaryTables(
  g: GraphBuilder,
  positions: string,
  cosCache: string,
  sinCache: string,
): RotaryTables {
  const axes01 = g.initializer(g.fresh("axes_0"), new BigInt64Array([0n]), [1]);
  const pos = g.op("Squeeze", [positions, axes01]); // [S] i64
  const axis1 = g.initializer(g.fresh("axes_1"), new BigInt64Array([1n]), [1]);
  return {
    cos: g.op("Unsqueeze", [g.op("Gather", [cosCache, pos], { axis: 0 }), axis1]), // [S, 1, D/2]
    sin: g.op("Unsqueeze", [g.op("Gather", [sinCache, pos], { axis: 0 }), axis1]), // [S, 1, D/2]
  };
}

/** Rotate-half rotary on the q and k parts of packed QKV `[S, (NH + 2KV) * D]`. */
export function applyGraphRotary(
  g: GraphBuilder,
  packed: string,
  t: RotaryTables,
  NH: number,
  KV: number,
  D: number,
): string {
  const i64 = (name: string, xs: number[]): string =>
    g.initializer(g.fresh(name), new BigInt64Array(xs.map(BigInt)), [xs.length]);
  const [q, k, v] = g.node("Split", [packed, i64("split", [NH * D, KV * D, KV * D])], 3, {
    axis: 1,
  });
  const rotate = (x: string, heads: number): string => {
    const x3 = g.op("Reshape", [x, i64("shape", [-1, heads, D])]); // [S, heads, D]
    const [x1, x2] = g.node("Split", [x3], 2, { axis: 2, num_outputs: 2 }); // [S, heads, D/2] each
    const a = g.op("Sub", [g.op("Mul", [x1!, t.cos]), g.op("Mul", [x2!, t.sin])]);
    const b = g.op("Add", [g.op("Mul", [x2!, t.cos]), g.op("Mul", [x1!, t.sin])]);
    return g.op("Reshape", [g.op("Concat", [a, b], { axis: 2 }), i64("shape", [-1, heads * D])]);
  };
  return g.op("Concat", [rotate(q!, NH), rotate(k!, KV), v!], { axis: 1 });
}

/** Shape and wiring of one Llama layer. */
export interface LlamaBlockOptions {
  /** Weight name prefix, e.g. `model.layers.3` (then `.self_attn.q_proj.weight`, ...). */
  prefix: string;
  /** Layer index: names the KV inputs/outputs `past_key.N`, `present_key.N`, .... */
  index: number;
  /** Model width H. */
  hiddenSize: number;
  /** MLP width I. */
  intermediateSize: number;
  /** Query heads. */
  numHeads: number;
  /** Key/value heads. */
  kvHeads: number;
  /** Head width D. */
  headDim: number;
  /** RMS norm epsilon. */
  normEps: number;
  /** KV buffer length in slots. */
  maxLength: number;
  /** Attention operator. */
  attention: AttentionKind;
  /** Per-graph attention inputs (rotary inside attention when `shared.rotary` is set). */
  shared: AttentionShared;
  /** Rotary tables when rotary is applied in the graph instead. */
  graphRotary: RotaryTables | undefined;
  /** Keep weights external. */
  external: boolean;
  /** Precision of the projections (default f32). */
  plan?: WeightPlan;
  /** Skip the input norm when the weights lack it (EAGLE-1 heads); default false (required). */
  optionalInputNorm?: boolean;
}

/**
 * The residual stream between layers: `x`, plus `delta` when the last addition is deferred so
 * the next norm can fuse it ({@linkcode addRmsNorm}).
 */
export interface Residual {
  /** The stream `[S, H]` f32. */
  x: string;
  /** A pending addition `[S, H]` f32. */
  delta?: string;
}

/**
 * Emits one pre-norm Llama layer: `x += o(attn(norm1(x)))`, `x += down(silu(gate) * up)` over
 * `norm2(x)`. Declares the layer's `past_key.N` / `past_value.N` inputs and
 * `present_key.N` / `present_value.N` outputs `[1, KV, maxLength, D]` f32.
 *
 * @param g The graph.
 * @param w The weights.
 * @param x The residual stream `[S, H]` f32.
 * @param o Shape, names and wiring.
 * @returns The layer's output `[S, H]` f32.
 */
export function emitLlamaBlock(
  g: GraphBuilder,
  w: WeightSource,
  x: string,
  o: LlamaBlockOptions,
): string {
  const r = emitLlamaBlockDeferred(g, w, { x }, o);
  return g.op("Add", [r.x, r.delta]);
}

/**
 * {@linkcode emitLlamaBlock} over a {@linkcode Residual}: a pending addition on the way in is
 * fused with the input norm, the attention output's addition with the MLP's norm, and the MLP
 * output is returned pending, for the next layer's (or the final) norm.
 *
 * @param g The graph.
 * @param w The weights.
 * @param input The residual stream, maybe with a pending addition.
 * @param o Shape, names and wiring.
 * @returns The stream and the MLP output still to add.
 */
export function emitLlamaBlockDeferred(
  g: GraphBuilder,
  w: WeightSource,
  input: Residual,
  o: LlamaBlockOptions,
): Required<Residual> {
  const { hiddenSize: H, intermediateSize: I, numHeads: NH, kvHeads: KV, headDim: D } = o;
  const ext = o.external;
  const plan = o.plan ?? weightPlan({ maxLength: o.maxLength, externalWeights: ext });
  const p = o.prefix;
  const a = `${p}.self_attn`;
  const l = o.index;
  const axis0 = g.initializer(g.fresh("axis0"), new BigInt64Array([0n]), [1]);
  const lnName = `${p}.input_layernorm.weight`;
  const ln1 = o.optionalInputNorm
    ? optionalWeight(g, w, lnName, [H], ext)
    : weight(g, w, lnName, [H], ext);
  const qkvW = concatRows([
    w.float32(`${a}.q_proj.weight`, [NH * D, H]),
    w.float32(`${a}.k_proj.weight`, [KV * D, H]),
    w.float32(`${a}.v_proj.weight`, [KV * D, H]),
  ]); // [(NH + 2KV) * D, H] f32
  const qkvN = (NH + 2 * KV) * D;
  const qkvB = w.has(`${a}.q_proj.bias`)
    ? g.initializer(
      `${a}.qkv_proj.bias`,
      concatRows([
        w.float32(`${a}.q_proj.bias`, [NH * D]),
        w.float32(`${a}.k_proj.bias`, [KV * D]),
        w.float32(`${a}.v_proj.bias`, [KV * D]),
      ]),
      [(NH + 2 * KV) * D],
    )
    : undefined;
  let x: string, h: string; // [S, H] each: the stream, and its input norm
  if (input.delta === undefined) {
    x = input.x;
    h = ln1 ? rmsNorm(g, x, ln1, o.normEps) : x;
  } else if (ln1) {
    ({ sum: x, normed: h } = addRmsNorm(g, input.x, input.delta, ln1, o.normEps));
  } else {
    x = h = g.op("Add", [input.x, input.delta]);
  }
  let packed = projection(g, h, `${a}.qkv_proj.weight`, qkvW, qkvN, H, qkvB, plan); // [S, qkvN]
  if (o.graphRotary) packed = applyGraphRotary(g, packed, o.graphRotary, NH, KV, D);
  const qkv = g.op("Unsqueeze", [packed, axis0]); // [1, S, (NH + 2KV) * D]
  const pastK = g.input(`past_key.${l}`, "float32", [1, KV, o.maxLength, D]);
  const pastV = g.input(`past_value.${l}`, "float32", [1, KV, o.maxLength, D]);
  const attn = emitAttention(
    g,
    qkv,
    pastK,
    pastV,
    `present_key.${l}`,
    `present_value.${l}`,
    o.shared,
    { kind: o.attention, numHeads: NH, kvHeads: KV },
  ); // [1, S, NH * D]
  g.output(`present_key.${l}`, "float32", [1, KV, o.maxLength, D]);
  g.output(`present_value.${l}`, "float32", [1, KV, o.maxLength, D]);
  const oW = w.float32(`${a}.o_proj.weight`, [H, NH * D]); // [H, NH * D] f32
  const oB = optionalWeight(g, w, `${a}.o_proj.bias`, [H], ext);
  const heads = g.op("Squeeze", [attn, axis0]); // [S, NH * D]
  const attnOut = projection(g, heads, `${a}.o_proj.weight`, oW, H, NH * D, oB, plan); // [S, H]

  const m = `${p}.mlp`;
  const ln2 = weight(g, w, `${p}.post_attention_layernorm.weight`, [H], ext);
  const guB = w.has(`${m}.gate_proj.bias`)
    ? g.initializer(
      `${m}.gate_up_proj.bias`,
      concatRows([w.float32(`${m}.gate_proj.bias`, [I]), w.float32(`${m}.up_proj.bias`, [I])]),
      [2 * I],
    )
    : undefined;
  const { sum: x2, normed: h2 } = addRmsNorm(g, x, attnOut, ln2, o.normEps); // [S, H] each
  const inner = gatedMlp(
    g,
    h2,
    `${m}.gate_up_proj.weight`,
    { name: `${m}.gate_proj.weight`, data: w.float32(`${m}.gate_proj.weight`, [I, H]) }, // [I, H]
    { name: `${m}.up_proj.weight`, data: w.float32(`${m}.up_proj.weight`, [I, H]) }, // [I, H]
    I,
    H,
    guB,
    plan,
  ); // [S, I]: silu(gate) * up
  const downW = w.float32(`${m}.down_proj.weight`, [H, I]); // [H, I] f32
  const downB = optionalWeight(g, w, `${m}.down_proj.bias`, [H], ext);
  return { x: x2, delta: projection(g, inner, `${m}.down_proj.weight`, downW, H, I, downB, plan) };
}
