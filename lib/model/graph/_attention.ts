/**
 * The one place that emits the attention node of every decoder layer, so the
 * CPU operator (`com.microsoft.GroupQueryAttention`) and the custom tree
 * attention operator (`specdec.TreeAttention`, same inputs and attributes) can
 * be switched with one option.
 *
 * @module
 */

import type { GraphBuilder } from "../onnx/graph_builder.ts";

/** Which operator computes attention. */
export type AttentionKind = "gqa" | "tree";

/** Shared, per-graph attention inputs (names of graph values). */
export interface AttentionShared {
  /** `seqlens_k` `[1]` i32: `P + S - 1`. */
  seqlensK: string;
  /** `total_sequence_length` `[]` i32: `P + S`. */
  totalSequenceLength: string;
  /** `attention_bias` `[1, 1, S, P + S]` f32: 0 where visible, -inf-ish where masked. */
  attentionBias: string;
  /** Rotary inputs when rotary is applied inside attention. */
  rotary?: {
    /** `position_ids` `[1, S]` i64. */
    positionIds: string;
    /** `cos_cache` `[maxPos, headDim / 2]` f32. */
    cos: string;
    /** `sin_cache` `[maxPos, headDim / 2]` f32. */
    sin: string;
  };
}

/** Options of {@linkcode emitAttention}. */
export interface AttentionOptions {
  /** Operator choice. */
  kind: AttentionKind;
  /** Query heads. */
  numHeads: number;
  /** Key/value heads. */
  kvHeads: number;
}

/**
 * Emits one layer's attention over packed QKV and the layer's in-place KV buffers.
 *
 * @param g The graph.
 * @param qkv Packed projections `[1, S, (numHeads + 2 * kvHeads) * headDim]` f32.
 * @param pastKey Layer's `past_key` input `[1, kvHeads, maxLen, headDim]` f32 (also its present output's buffer).
 * @param pastValue Layer's `past_value` input, same shape.
 * @param presentKey Output name for the present key (bound to the same buffer as `pastKey`).
 * @param presentValue Output name for the present value.
 * @param shared Per-graph inputs.
 * @param options Operator and head counts.
 * @returns Attention output `[1, S, numHeads * headDim]` f32.
 */
export function emitAttention(
  g: GraphBuilder,
  qkv: string,
  pastKey: string,
  pastValue: string,
  presentKey: string,
  presentValue: string,
  shared: AttentionShared,
  options: AttentionOptions,
): string {
  const r = shared.rotary;
  const inputs = [
    qkv,
    "",
    "",
    pastKey,
    pastValue,
    shared.seqlensK,
    shared.totalSequenceLength,
    r?.cos ?? "",
    r?.sin ?? "",
    r?.positionIds ?? "",
    shared.attentionBias,
  ];
  const attrs = {
    num_heads: options.numHeads,
    kv_num_heads: options.kvHeads,
    do_rotary: r ? 1 : 0,
    rotary_interleaved: 0,
  };
  const [out] = options.kind === "gqa"
    ? g.node(
      "GroupQueryAttention",
      inputs,
      [g.fresh("attn"), presentKey, presentValue],
      attrs,
      "com.microsoft",
    )
    : g.node(
      "TreeAttention",
      inputs,
      [g.fresh("attn"), presentKey, presentValue],
      attrs,
      "specdec",
    );
  return out!;
}
