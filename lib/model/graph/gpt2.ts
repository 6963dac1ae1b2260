/**
 * Builds the ONNX decoder graph of a GPT-2 checkpoint (learned positions,
 * LayerNorm, Conv1D weights stored `[in, out]`, `gelu_new`), following the
 * {@link ./decoder_graph.ts} contract. The fused `c_attn` output is already
 * packed QKV, so attention takes it as is (no rotary).
 *
 * @module
 */

import { GraphBuilder } from "../onnx/graph_builder.ts";
import type { ModelConfig } from "../config.ts";
import { emitAttention } from "./_attention.ts";
import {
  type BuildOptions,
  declareDecoderInputs,
  type DecoderGraph,
  type WeightSource,
} from "./decoder_graph.ts";
import { decoderGraph, emitHead, layerNorm, linear, weight } from "./_layers.ts";

/**
 * Emits the graph of a GPT-2 checkpoint.
 *
 * @param config The normalised config (`family: "gpt2"`).
 * @param source The weights (names with or without the `transformer.` prefix).
 * @param options KV capacity, attention operator, external weights.
 * @returns The model bytes and the weights to hand over by reference.
 */
export function buildGpt2Graph(
  config: ModelConfig,
  source: WeightSource,
  options: BuildOptions,
): DecoderGraph {
  const ext = options.externalWeights ?? true;
  const { hiddenSize: H, numHeads: NH, headDim: D, vocabSize: V } = config;
  const I = config.intermediateSize;
  if (options.maxLength > config.maxPositionEmbeddings) {
    throw new RangeError(
      `maxLength ${options.maxLength} exceeds the checkpoint's n_positions ${config.maxPositionEmbeddings}`,
    );
  }
  const prefix = source.has("transformer.wte.weight") ? "transformer." : "";
  // Weights are registered under their canonical (prefixed) names.
  const map = (n: string): string =>
    n.startsWith("transformer.") ? prefix + n.slice("transformer.".length) : n;
  const w: WeightSource = {
    has: (n) => source.has(map(n)),
    float32: (n, s) => source.float32(map(n), s),
  };
  const g = new GraphBuilder("gpt2");
  const inp = declareDecoderInputs(g);
  const axis0 = g.initializer("axis0", new BigInt64Array([0n]), [1]);
  const wte = weight(g, w, "transformer.wte.weight", [V, H], ext);
  const wpe = weight(g, w, "transformer.wpe.weight", [config.maxPositionEmbeddings, H], ext);
  const pos = g.op("Squeeze", [inp.positions, axis0]); // [S] i64
  let x = g.op("Add", [
    g.op("Gather", [wte, inp.ids], { axis: 0 }),
    g.op("Gather", [wpe, pos], { axis: 0 }),
  ]); // [S, H] f32
  const shared = {
    seqlensK: inp.seqlensK,
    totalSequenceLength: inp.total,
    attentionBias: inp.bias,
  };
  const attnOpts = { kind: options.attention ?? "gqa", numHeads: NH, kvHeads: NH } as const;
  for (let l = 0; l < config.numLayers; l++) {
    const p = `transformer.h.${l}`;
    const ln1 = layerNorm(
      g,
      x,
      weight(g, w, `${p}.ln_1.weight`, [H], ext),
      weight(g, w, `${p}.ln_1.bias`, [H], ext),
      config.normEps,
    );
    const qkv = linear(
      g,
      ln1,
      weight(g, w, `${p}.attn.c_attn.weight`, [H, 3 * H], ext),
      weight(g, w, `${p}.attn.c_attn.bias`, [3 * H], ext),
      false,
    ); // [S, 3H]
    const pastK = g.input(`past_key.${l}`, "float32", [1, NH, options.maxLength, D]);
    const pastV = g.input(`past_value.${l}`, "float32", [1, NH, options.maxLength, D]);
    const attn = emitAttention(
      g,
      g.op("Unsqueeze", [qkv, axis0]),
      pastK,
      pastV,
      `present_key.${l}`,
      `present_value.${l}`,
      shared,
      attnOpts,
    ); // [1, S, H]
    g.output(`present_key.${l}`, "float32", [1, NH, options.maxLength, D]);
    g.output(`present_value.${l}`, "float32", [1, NH, options.maxLength, D]);
    x = g.op("Add", [
      x,
      linear(
        g,
        g.op("Squeeze", [attn, axis0]),
        weight(g, w, `${p}.attn.c_proj.weight`, [H, H], ext),
        weight(g, w, `${p}.attn.c_proj.bias`, [H], ext),
        false,
      ),
    ]);
    const ln2 = layerNorm(
      g,
      x,
      weight(g, w, `${p}.ln_2.weight`, [H], ext),
      weight(g, w, `${p}.ln_2.bias`, [H], ext),
      config.normEps,
    );
    const fc = linear(
      g,
      ln2,
      weight(g, w, `${p}.mlp.c_fc.weight`, [H, I], ext),
      weight(g, w, `${p}.mlp.c_fc.bias`, [I], ext),
      false,
    ); // [S, I]
    const act = g.op("Gelu", [fc], { approximate: "tanh" });
    x = g.op("Add", [
      x,
      linear(
        g,
        act,
        weight(g, w, `${p}.mlp.c_proj.weight`, [I, H], ext),
        weight(g, w, `${p}.mlp.c_proj.bias`, [H], ext),
        false,
      ),
    ]);
  }
  const normed = layerNorm(
    g,
    x,
    weight(g, w, "transformer.ln_f.weight", [H], ext),
    weight(g, w, "transformer.ln_f.bias", [H], ext),
    config.normEps,
  );
  const head = w.has("lm_head.weight") && !config.tieWordEmbeddings
    ? weight(g, w, "lm_head.weight", [V, H], ext)
    : wte;
  emitHead(g, normed, head, config);
  return decoderGraph(g, config, options);
}
