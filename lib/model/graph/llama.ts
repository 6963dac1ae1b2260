/**
 * Builds the ONNX decoder graph of a Llama-family checkpoint (Llama, Mistral,
 * Qwen2 with q/k/v biases, SmolLM; tied or untied LM head) following the
 * {@link ./decoder_graph.ts} contract.
 *
 * Fused projections: q/k/v become one `[Q + 2KV, H]` Gemm feeding packed QKV to
 * attention, gate/up one `[2I, H]` Gemm then Split; on a CPU at small S a single
 * larger product is cheaper than three small ones. Rotary is applied inside
 * GroupQueryAttention (`do_rotary`, cos/sin caches, `position_ids`) when the head
 * width is a multiple of 16, else in the graph before attention (rotate-half on
 * the q and k parts of the packed projections).
 *
 * @module
 */

import { GraphBuilder } from "../onnx/graph_builder.ts";
import type { ModelConfig } from "../config.ts";
import { type AttentionShared, emitAttention } from "./_attention.ts";
import {
  type BuildOptions,
  declareDecoderInputs,
  type DecoderGraph,
  type WeightSource,
} from "./decoder_graph.ts";
import {
  concatRows,
  decoderGraph,
  emitHead,
  linear,
  optionalWeight,
  rmsNorm,
  rotaryCaches,
  weight,
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
  const ext = options.externalWeights ?? true;
  const { hiddenSize: H, numHeads: NH, numKvHeads: KV, headDim: D, vocabSize: V } = config;
  const I = config.intermediateSize;
  const L = config.numLayers;
  const g = new GraphBuilder(config.modelType);
  const inp = declareDecoderInputs(g);
  // GroupQueryAttention's built-in rotary needs D % 16 == 0; other widths rotate in the graph.
  const inAttention = D % 16 === 0 && options.rotary !== "graph";
  const [cos, sin] = rotaryCaches(options.maxLength, D, config.ropeTheta, config.ropeScaling);
  const cosName = g.initializer("cos_cache", cos, [options.maxLength, D / 2]);
  const sinName = g.initializer("sin_cache", sin, [options.maxLength, D / 2]);
  const shared: AttentionShared = {
    seqlensK: inp.seqlensK,
    totalSequenceLength: inp.total,
    attentionBias: inp.bias,
    ...(inAttention ? { rotary: { positionIds: inp.positions, cos: cosName, sin: sinName } } : {}),
  };
  const graphRotary = inAttention
    ? undefined
    : graphRotaryTables(g, inp.positions, cosName, sinName);
  const axis0 = g.initializer("axis0", new BigInt64Array([0n]), [1]);
  const embed = weight(g, w, "model.embed_tokens.weight", [V, H], ext);
  let x = g.op("Gather", [embed, inp.ids], { axis: 0 }); // [S, H] f32
  const attnOpts = { kind: options.attention ?? "gqa", numHeads: NH, kvHeads: KV } as const;
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const a = `${p}.self_attn`;
    const ln1 = weight(g, w, `${p}.input_layernorm.weight`, [H], ext);
    const qkvW = g.initializer(
      `${a}.qkv_proj.weight`,
      concatRows([
        w.float32(`${a}.q_proj.weight`, [NH * D, H]),
        w.float32(`${a}.k_proj.weight`, [KV * D, H]),
        w.float32(`${a}.v_proj.weight`, [KV * D, H]),
      ]),
      [(NH + 2 * KV) * D, H],
      { external: ext },
    );
    const hasQkvBias = w.has(`${a}.q_proj.bias`);
    const qkvB = hasQkvBias
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
    const h = rmsNorm(g, x, ln1, config.normEps); // [S, H]
    let packed = linear(g, h, qkvW, qkvB); // [S, (NH + 2KV) * D]
    if (graphRotary) packed = applyGraphRotary(g, packed, graphRotary, NH, KV, D);
    const qkv = g.op("Unsqueeze", [packed, axis0]); // [1, S, (NH + 2KV) * D]
    const pastK = g.input(`past_key.${l}`, "float32", [1, KV, options.maxLength, D]);
    const pastV = g.input(`past_value.${l}`, "float32", [1, KV, options.maxLength, D]);
    const attn = emitAttention(
      g,
      qkv,
      pastK,
      pastV,
      `present_key.${l}`,
      `present_value.${l}`,
      shared,
      attnOpts,
    ); // [1, S, NH * D]
    g.output(`present_key.${l}`, "float32", [1, KV, options.maxLength, D]);
    g.output(`present_value.${l}`, "float32", [1, KV, options.maxLength, D]);
    const oW = weight(g, w, `${a}.o_proj.weight`, [H, NH * D], ext);
    const oB = optionalWeight(g, w, `${a}.o_proj.bias`, [H], ext);
    x = g.op("Add", [x, linear(g, g.op("Squeeze", [attn, axis0]), oW, oB)]);

    const m = `${p}.mlp`;
    const ln2 = weight(g, w, `${p}.post_attention_layernorm.weight`, [H], ext);
    const guW = g.initializer(
      `${m}.gate_up_proj.weight`,
      concatRows([
        w.float32(`${m}.gate_proj.weight`, [I, H]),
        w.float32(`${m}.up_proj.weight`, [I, H]),
      ]),
      [2 * I, H],
      { external: ext },
    );
    const guB = w.has(`${m}.gate_proj.bias`)
      ? g.initializer(
        `${m}.gate_up_proj.bias`,
        concatRows([w.float32(`${m}.gate_proj.bias`, [I]), w.float32(`${m}.up_proj.bias`, [I])]),
        [2 * I],
      )
      : undefined;
    const gu = linear(g, rmsNorm(g, x, ln2, config.normEps), guW, guB); // [S, 2I]
    const [gate, up] = g.node("Split", [gu], 2, { axis: 1, num_outputs: 2 });
    const act = g.op("Mul", [gate!, g.op("Sigmoid", [gate!])]);
    const downW = weight(g, w, `${m}.down_proj.weight`, [H, I], ext);
    const downB = optionalWeight(g, w, `${m}.down_proj.bias`, [H], ext);
    x = g.op("Add", [x, linear(g, g.op("Mul", [act, up!]), downW, downB)]);
  }
  const normW = weight(g, w, "model.norm.weight", [H], ext);
  const head = w.has("lm_head.weight") && !config.tieWordEmbeddings
    ? weight(g, w, "lm_head.weight", [V, H], ext)
    : embed;
  emitHead(g, rmsNorm(g, x, normW, config.normEps), head, config);
  return decoderGraph(g, config, options);
}

/** Rotary tables gathered once per forward: cos/sin `[S, 1, D/2]` f32. */
interface RotaryTables {
  cos: string;
  sin: string;
}

function graphRotaryTables(
  g: GraphBuilder,
  positions: string,
  cosCache: string,
  sinCache: string,
): RotaryTables {
  const axes01 = g.initializer("axes_0", new BigInt64Array([0n]), [1]);
  const pos = g.op("Squeeze", [positions, axes01]); // [S] i64
  const axis1 = g.initializer("axes_1", new BigInt64Array([1n]), [1]);
  return {
    cos: g.op("Unsqueeze", [g.op("Gather", [cosCache, pos], { axis: 0 }), axis1]), // [S, 1, D/2]
    sin: g.op("Unsqueeze", [g.op("Gather", [sinCache, pos], { axis: 0 }), axis1]), // [S, 1, D/2]
  };
}

/** Rotate-half rotary on the q and k parts of packed QKV `[S, (NH + 2KV) * D]`. */
function applyGraphRotary(
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
