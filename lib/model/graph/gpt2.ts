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
import {
  decoderGraph,
  embedding,
  emitHead,
  layerNorm,
  projection,
  weight,
  weightPlan,
} from "./_layers.ts";

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
  const plan = weightPlan(options);
  const slots = options.kvSlots ?? options.maxLength; // KV buffer slots
  const ext = plan.external;
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
  const g = new GraphBuilder("gpt2", options.sink);
  const inp = declareDecoderInputs(g);
  const axis0 = g.initializer("axis0", new BigInt64Array([0n]), [1]);
  const wpe = weight(g, w, "transformer.wpe.weight", [config.maxPositionEmbeddings, H], ext);
  const pos = g.op("Squeeze", [inp.positions, axis0]); // [S] i64
  const wteName = "transformer.wte.weight";
  const wte = embedding(g, wteName, w.float32(wteName, [V, H]), [V, H], inp.ids, plan); // [S, H]
  let x = g.op("Add", [
    wte.embedded,
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
    const qkv = projection(
      g,
      ln1,
      `${p}.attn.c_attn.weight`,
      w.float32(`${p}.attn.c_attn.weight`, [H, 3 * H]),
      3 * H,
      H,
      weight(g, w, `${p}.attn.c_attn.bias`, [3 * H], ext),
      plan,
      "in_out",
    ); // [S, 3H]
    const pastK = g.input(`past_key.${l}`, "float32", [1, NH, slots, D]);
    const pastV = g.input(`past_value.${l}`, "float32", [1, NH, slots, D]);
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
    g.output(`present_key.${l}`, "float32", [1, NH, slots, D]);
    g.output(`present_value.${l}`, "float32", [1, NH, slots, D]);
    x = g.op("Add", [
      x,
      projection(
        g,
        g.op("Squeeze", [attn, axis0]),
        `${p}.attn.c_proj.weight`,
        w.float32(`${p}.attn.c_proj.weight`, [H, H]),
        H,
        H,
        weight(g, w, `${p}.attn.c_proj.bias`, [H], ext),
        plan,
        "in_out",
      ),
    ]);
    const ln2 = layerNorm(
      g,
      x,
      weight(g, w, `${p}.ln_2.weight`, [H], ext),
      weight(g, w, `${p}.ln_2.bias`, [H], ext),
      config.normEps,
    );
    const fc = projection(
      g,
      ln2,
      `${p}.mlp.c_fc.weight`,
      w.float32(`${p}.mlp.c_fc.weight`, [H, I]),
      I,
      H,
      weight(g, w, `${p}.mlp.c_fc.bias`, [I], ext),
      plan,
      "in_out",
    ); // [S, I]
    const act = g.op("Gelu", [fc], { approximate: "tanh" });
    x = g.op("Add", [
      x,
      projection(
        g,
        act,
        `${p}.mlp.c_proj.weight`,
        w.float32(`${p}.mlp.c_proj.weight`, [I, H]),
        H,
        I,
        weight(g, w, `${p}.mlp.c_proj.bias`, [H], ext),
        plan,
        "in_out",
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
  const untied = w.has("lm_head.weight") && !config.tieWordEmbeddings;
  emitHead(g, normed, config, plan, {
    name: untied ? "lm_head.weight" : "transformer.wte.weight",
    data: () => w.float32(untied ? "lm_head.weight" : "transformer.wte.weight", [V, H]),
    ...(untied || !wte.table ? {} : { initializer: wte.table }),
    ...(untied || !wte.quantized ? {} : { quantized: wte.quantized }),
  });
  return decoderGraph(g, config, options);
}
