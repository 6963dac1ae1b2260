/**
 * Small emission helpers shared by the graph builders.
 *
 * @module
 */

import { FloatAttr, type GraphBuilder } from "../onnx/graph_builder.ts";
import type { BuildOptions, DecoderGraph, WeightSource } from "./decoder_graph.ts";
import type { ModelConfig, RopeScaling } from "../config.ts";

/** A linear layer `y = x W^T + b` over 2-D `x` `[S, in]` with W stored `[out, in]` (or `[in, out]`). */
export function linear(
  g: GraphBuilder,
  x: string,
  weight: string,
  bias: string | undefined,
  transposed = true,
): string {
  return g.op("Gemm", bias ? [x, weight, bias] : [x, weight], { transB: transposed ? 1 : 0 });
}

/** Concatenates row-major `[rows_i, cols]` matrices (or vectors) into one. */
export function concatRows(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Adds a weight initializer read from the source. */
export function weight(
  g: GraphBuilder,
  w: WeightSource,
  name: string,
  shape: number[],
  external: boolean,
): string {
  return g.initializer(name, w.float32(name, shape), shape, { external });
}

/** Adds a weight only when the source has it (optional biases). */
export function optionalWeight(
  g: GraphBuilder,
  w: WeightSource,
  name: string,
  shape: number[],
  external: boolean,
): string | undefined {
  return w.has(name) ? weight(g, w, name, shape, external) : undefined;
}

/** RMS norm (`SimplifiedLayerNormalization`, f32 statistics) over the last axis. */
export function rmsNorm(g: GraphBuilder, x: string, scale: string, eps: number): string {
  return g.op("SimplifiedLayerNormalization", [x, scale], {
    axis: -1,
    epsilon: new FloatAttr(eps),
    stash_type: 1,
  });
}

/** Layer norm over the last axis. */
export function layerNorm(
  g: GraphBuilder,
  x: string,
  scale: string,
  bias: string,
  eps: number,
): string {
  return g.op("LayerNormalization", [x, scale, bias], { axis: -1, epsilon: new FloatAttr(eps) });
}

/** Rotary caches `[rows, headDim / 2]` f32 as Hugging Face computes them (rotate-half layout). */
export function rotaryCaches(
  rows: number,
  headDim: number,
  theta: number,
  scaling?: RopeScaling,
): [Float32Array, Float32Array] {
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.pow(theta, (2 * i) / headDim);
  if (scaling && scaling.type === "linear") {
    for (let i = 0; i < half; i++) invFreq[i] = invFreq[i]! / scaling.factor;
  } else if (scaling && scaling.type === "llama3") {
    const { factor, lowFreqFactor: lo, highFreqFactor: hi } = scaling;
    const old = scaling.originalMaxPositionEmbeddings;
    for (let i = 0; i < half; i++) {
      const f = invFreq[i]!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > old / lo) invFreq[i] = f / factor;
      else if (wavelen >= old / hi) {
        const smooth = (old / wavelen - lo) / (hi - lo);
        invFreq[i] = (1 - smooth) * f / factor + smooth * f;
      }
    }
  }
  const cos = new Float32Array(rows * half); // [rows, headDim / 2] f32
  const sin = new Float32Array(rows * half); // [rows, headDim / 2] f32
  for (let p = 0; p < rows; p++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround(p * invFreq[i]!);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return [cos, sin];
}

/**
 * Emits the shared tail: `hidden` `[S, H]` (the final-norm output) and `logits`
 * `[S, V]` = hidden · head^T, with the head stored `[V, H]` (often the embedding).
 */
export function emitHead(g: GraphBuilder, normed: string, head: string, config: ModelConfig): void {
  g.op("Identity", [normed], {}, "", "hidden");
  g.output("hidden", "float32", ["S", config.hiddenSize]);
  g.op("Gemm", ["hidden", head], { transB: 1 }, "", "logits");
  g.output("logits", "float32", ["S", config.vocabSize]);
}

/** Serialises a finished decoder graph with its metadata. */
export function decoderGraph(
  g: GraphBuilder,
  config: ModelConfig,
  options: BuildOptions,
): DecoderGraph {
  const opsets: Record<string, number> = { "": 21, "com.microsoft": 1 };
  if (options.attention === "tree") opsets["specdec"] = 1;
  return {
    model: g.toModel(opsets),
    externals: g.externals,
    numLayers: config.numLayers,
    kvHeads: config.numKvHeads,
    headDim: config.headDim,
    maxLength: options.maxLength,
    vocabSize: config.vocabSize,
    hiddenSize: config.hiddenSize,
  };
}
