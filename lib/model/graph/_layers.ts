/**
 * Small emission helpers shared by the graph builders.
 *
 * @module
 */

import { FloatAttr, type GraphBuilder } from "../onnx/graph_builder.ts";
import type {
  ActivationPrecision,
  BuildOptions,
  DecoderGraph,
  LinearKernel,
  WeightSource,
} from "./decoder_graph.ts";
import { interleavePanels, packPanels, packQuantizedPanels, PANEL } from "./pack_panels.ts";
import type { ModelConfig, RopeScaling } from "../config.ts";
import {
  quantizeBlockwise,
  type QuantizedWeight,
  type WeightPrecision,
} from "./quantize_blockwise.ts";
import { SpecDecError, StatusCode } from "../../runtime/errors.ts";

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

/** How projection weights are stored (from {@linkcode BuildOptions}). */
export interface WeightPlan {
  /** Precision of projection weights. */
  precision: WeightPrecision;
  /** Keep weights out of the model bytes. */
  external: boolean;
  /** `MatMulNBits` accuracy level (4: int8 activations, VNNI; 0: f32 activations). */
  accuracyLevel: number;
  /** Asymmetric blocks with zero points. */
  zeroPoints: boolean;
  /** Columns per quantization block. */
  blockSize: number;
  /** The embedding table at q8/q4: quantized like the projections, or f16. */
  embedding: "quantized" | "f16";
  /** The LM head at q8/q4: quantized like the projections, or f32. */
  lmHead: "quantized" | "f32";
  /**
   * The projections' kernel: `packed` (PackedLinear at f32, PackedLinearQ at q8/q4 with
   * symmetric blocks of 32) or `gemm` (Gemm at f32, MatMulNBits at q8/q4).
   */
  linear: LinearKernel;
  /** Activations of `PackedLinearQ` (`int8`: its attribute `act_bits` 8). */
  activations: ActivationPrecision;
}

/**
 * The weight plan of a build: `f32` unless `options.weights` says otherwise; 4-bit and 8-bit
 * weights use block 32, symmetric blocks (no zero points) and accuracy level 4 (chosen by measurement, see README).
 *
 * @param options Build options.
 * @returns The plan.
 */
export function weightPlan(options: BuildOptions): WeightPlan {
  return {
    precision: options.weights ?? "f32",
    external: options.externalWeights ?? true,
    accuracyLevel: options.quantization?.accuracyLevel ?? 4,
    zeroPoints: options.quantization?.zeroPoints ?? false,
    blockSize: options.quantization?.blockSize ?? 32,
    embedding: options.quantization?.embedding ?? "quantized",
    lmHead: options.quantization?.lmHead ?? "quantized",
    linear: options.linear ?? "gemm",
    activations: options.activations ?? "f32",
  };
}

/**
 * A projection `y = x W^T + b` of `x` `[S, k]` to `[S, n]`: a Gemm over the f32 weight, or
 * `com.microsoft.MatMulNBits` over block-quantized codes (quantized here, at load time).
 *
 * @param g The graph builder.
 * @param x Input `[S, k]`.
 * @param name Weight initializer name (the f32 name; quantized ones add `_q`, `_scales`, `_zp`).
 * @param data Weight data, f32, `[n, k]` (`layout` `out_in`) or `[k, n]` (`in_out`).
 * @param n Output width.
 * @param k Input width.
 * @param bias Bias initializer `[n]`, if any.
 * @param plan Precision and storage.
 * @param layout Layout of `data`.
 * @returns The output name `[S, n]` f32.
 */
export function projection(
  g: GraphBuilder,
  x: string,
  name: string,
  data: Float32Array,
  n: number,
  k: number,
  bias: string | undefined,
  plan: WeightPlan,
  layout: "out_in" | "in_out" = "out_in",
): string {
  if (plan.precision === "f32") {
    if (plan.linear === "packed") return packedLinear(g, x, name, data, n, k, bias, plan, layout);
    const dims = layout === "out_in" ? [n, k] : [k, n];
    const wName = g.initializer(name, data, dims, { external: plan.external });
    return linear(g, x, wName, bias, layout === "out_in");
  }
  if (packsQuantized(plan)) {
    return packedLinearQ(g, x, name, quantize(name, data, n, k, plan, layout), bias, plan);
  }
  return matMulNBits(g, x, quantizedWeight(g, name, data, n, k, plan, layout), bias, plan);
}

/** A weight and the name it has in the checkpoint. */
export interface NamedWeight {
  /** Checkpoint tensor name (named in errors). */
  name: string;
  /** The values, f32. */
  data: Float32Array;
}

/**
 * A gated MLP's inner activation `silu(x Wg^T + bg) * (x Wu^T + bu)` `[S, I]`. With specdec's
 * packed kernels (f32 `PackedLinear`, q8/q4 `PackedLinearQ`) one op computes both projections
 * and the activation (`glu: 1`, the gate and up panels interleaved, see
 * {@linkcode interleavePanels}); otherwise one `[2I, H]` projection, `Split`, `Sigmoid` and two
 * `Mul`s.
 *
 * @param g The graph builder.
 * @param x Input `[S, k]` f32.
 * @param name Weight name of the pair (`<m>.gate_up_proj.weight`), named in the initializers.
 * @param gate Gate weight `[n, k]` f32 (out, in) and its checkpoint name (named in errors).
 * @param up Up weight `[n, k]` f32 (out, in) and its checkpoint name.
 * @param n MLP width I.
 * @param k Input width H.
 * @param bias Bias initializer `[2n]` (the gate's, then the up projection's), if any.
 * @param plan Precision and kernels.
 * @returns The activation `[S, n]` f32.
 */
export function gatedMlp(
  g: GraphBuilder,
  x: string,
  name: string,
  gate: NamedWeight,
  up: NamedWeight,
  n: number,
  k: number,
  bias: string | undefined,
  plan: WeightPlan,
): string {
  const panels = Math.ceil(n / PANEL);
  const ext = { external: plan.external };
  if (plan.precision === "f32" && plan.linear === "packed") {
    const w = interleavePanels(packPanels(gate.data, n, k), packPanels(up.data, n, k), panels);
    const wName = g.initializer(`${name}_packed`, w, [2 * panels, k, PANEL], ext); // [2P, k, 32]
    return g.op("PackedLinear", bias ? [x, wName, bias] : [x, wName], { N: n, glu: 1 }, "specdec");
  }
  if (packsQuantized(plan)) {
    const wg = quantize(gate.name, gate.data, n, k, plan, "out_in");
    const qg = packQuantizedPanels(wg);
    const qu = packQuantizedPanels(quantize(up.name, up.data, n, k, plan, "out_in"));
    const { kBlocks, bits } = wg;
    const inputs = [
      x,
      g.initializer(
        `${name}_pq`,
        interleavePanels(qg.codes, qu.codes, panels),
        [2 * panels, kBlocks * PANEL, (PANEL * bits) / 8],
        ext,
      ),
      g.initializer(
        `${name}_ps`,
        interleavePanels(qg.scales, qu.scales, panels),
        [2 * panels, kBlocks, PANEL],
        ext,
      ),
    ];
    if (bias) inputs.push(bias);
    return g.op("PackedLinearQ", inputs, { N: n, bits, glu: 1, ...actBits(plan) }, "specdec");
  }
  const gu = projection(g, x, name, concatRows([gate.data, up.data]), 2 * n, k, bias, plan); // [S, 2n]
  const [gt, u] = g.node("Split", [gu], 2, { axis: 1, num_outputs: 2 });
  const act = g.op("Mul", [gt!, g.op("Sigmoid", [gt!])]);
  return g.op("Mul", [act, u!]); // [S, n]
}

/**
 * Whether q8/q4 projections run `specdec.PackedLinearQ` (`linear: "packed"` with symmetric
 * blocks of 32) rather than `MatMulNBits`.
 *
 * @param plan The weight plan.
 * @returns True for packed quantized projections.
 */
export function packsQuantized(plan: WeightPlan): boolean {
  return plan.precision !== "f32" && plan.linear === "packed" && plan.blockSize === PANEL &&
    !plan.zeroPoints;
}

/**
 * `y = x W^T + b` through `specdec.PackedLinearQ` over a block-quantized weight repacked into
 * panels (`<name>_pq` codes, `<name>_ps` scales, see {@linkcode packQuantizedPanels}).
 *
 * @param g The graph builder.
 * @param x Input `[S, k]` f32.
 * @param name Weight name.
 * @param q The weight quantized with symmetric blocks of 32.
 * @param bias Bias initializer `[n]`, if any.
 * @param plan Storage.
 * @returns The output name `[S, n]` f32.
 */
export function packedLinearQ(
  g: GraphBuilder,
  x: string,
  name: string,
  q: QuantizedWeight,
  bias: string | undefined,
  plan: WeightPlan,
): string {
  const { codes, scales } = packQuantizedPanels(q);
  const panels = Math.ceil(q.n / PANEL);
  const ext = { external: plan.external };
  const inputs = [
    x,
    g.initializer(`${name}_pq`, codes, [panels, q.kBlocks * PANEL, (PANEL * q.bits) / 8], ext),
    g.initializer(`${name}_ps`, scales, [panels, q.kBlocks, PANEL], ext),
  ];
  if (bias) inputs.push(bias);
  return g.op("PackedLinearQ", inputs, { N: q.n, bits: q.bits, ...actBits(plan) }, "specdec");
}

/** `PackedLinearQ`'s attribute for int8 activations (none for f32: the op's default). */
function actBits(plan: WeightPlan): { act_bits?: number } {
  return plan.activations === "int8" ? { act_bits: 8 } : {};
}

/**
 * `y = x W^T + b` through `specdec.PackedLinear`, the f32 weight stored in column panels
 * (`<name>_packed` `[ceil(n / 32), k, 32]`, see {@linkcode packPanels}).
 *
 * @param g The graph builder.
 * @param x Input `[S, k]`.
 * @param name Weight name (the initializer is `<name>_packed`).
 * @param data Weight data, f32, in `layout`.
 * @param n Output width.
 * @param k Input width.
 * @param bias Bias initializer `[n]`, if any.
 * @param plan Storage.
 * @param layout Layout of `data`.
 * @returns The output name `[S, n]` f32.
 */
export function packedLinear(
  g: GraphBuilder,
  x: string,
  name: string,
  data: Float32Array,
  n: number,
  k: number,
  bias: string | undefined,
  plan: WeightPlan,
  layout: "out_in" | "in_out" = "out_in",
): string {
  const packed = packPanels(data, n, k, layout); // [ceil(n / 32), k, 32] f32
  const w = g.initializer(`${name}_packed`, packed, [Math.ceil(n / PANEL), k, PANEL], {
    external: plan.external,
  });
  return g.op("PackedLinear", bias ? [x, w, bias] : [x, w], { N: n }, "specdec");
}

/** A weight quantized into the graph: its codes, scales and zero points, and their names. */
export interface GraphQuantized {
  /** The quantized data (also for other views of the same bytes). */
  q: QuantizedWeight;
  /** Codes `[n, kBlocks, blob]` u8. */
  codes: string;
  /** Scales `[n * kBlocks]` f32. */
  scales: string;
  /** Zero points `[n * zpRow]` u8, or `""`. */
  zeroPoints: string;
}

/**
 * Quantizes a weight and adds its `MatMulNBits` initializers (`<name>_q`, `_scales`, `_zp`).
 *
 * @param g The graph builder.
 * @param name Weight name (named in errors).
 * @param data Weight data, f32, in `layout`.
 * @param n Output width.
 * @param k Input width.
 * @param plan Precision (q8 or q4) and storage.
 * @param layout Layout of `data`.
 * @returns The quantized data and initializer names.
 * @throws {SpecDecError} When a value cannot be quantized (the tensor is named).
 */
export function quantizedWeight(
  g: GraphBuilder,
  name: string,
  data: Float32Array,
  n: number,
  k: number,
  plan: WeightPlan,
  layout: "out_in" | "in_out" = "out_in",
): GraphQuantized {
  const q = quantize(name, data, n, k, plan, layout);
  const bits = q.bits;
  const ext = { external: plan.external };
  const blob = (plan.blockSize * bits) / 8;
  return {
    q,
    codes: g.initializer(`${name}_q`, q.codes, [n, q.kBlocks, blob], ext),
    scales: g.initializer(`${name}_scales`, q.scales, [n * q.kBlocks], ext),
    zeroPoints: q.zeroPoints
      ? g.initializer(`${name}_zp`, q.zeroPoints, [q.zeroPoints.length], ext)
      : "",
  };
}

/** Quantizes a weight as the plan says; a failure is a `SpecDecError` naming the tensor. */
function quantize(
  name: string,
  data: Float32Array,
  n: number,
  k: number,
  plan: WeightPlan,
  layout: "out_in" | "in_out",
): QuantizedWeight {
  try {
    return quantizeBlockwise(data, n, k, {
      bits: plan.precision === "q4" ? 4 : 8,
      blockSize: plan.blockSize,
      zeroPoints: plan.zeroPoints,
      layout,
    });
  } catch (cause) {
    throw new SpecDecError(
      `Cannot quantize "${name}" [${n}, ${k}] to ${plan.precision}: ${(cause as Error).message}`,
      StatusCode.INVALID_ARGUMENT,
      { cause },
    );
  }
}

/**
 * `y = x W^T + b` over a quantized weight (`com.microsoft.MatMulNBits`).
 *
 * @param g The graph builder.
 * @param x Input `[S, k]` f32.
 * @param w The quantized weight.
 * @param bias Bias `[n]`, if any.
 * @param plan Accuracy level.
 * @returns Output `[S, n]` f32.
 */
export function matMulNBits(
  g: GraphBuilder,
  x: string,
  w: GraphQuantized,
  bias: string | undefined,
  plan: WeightPlan,
): string {
  const inputs = [x, w.codes, w.scales, w.zeroPoints, "", bias ?? ""];
  while (inputs[inputs.length - 1] === "") inputs.pop();
  return g.op("MatMulNBits", inputs, {
    K: w.q.k,
    N: w.q.n,
    bits: w.q.bits,
    block_size: w.q.blockSize,
    accuracy_level: plan.accuracyLevel,
  }, "com.microsoft");
}

/**
 * Token embeddings `[S, H]` f32 gathered from a `[V, H]` table. At `f32` precision an f32
 * Gather. At q8/q4 the table is block-quantized like the projections and gathered with
 * `com.microsoft.GatherBlockQuantized` (the same bytes serve a tied LM head's `MatMulNBits`),
 * or, when `H` is not a whole number of blocks or the plan says `f16`, stored as f16 and cast
 * after the gather (exact for f16 and bf16 checkpoints in f16's normal range).
 *
 * @param g The graph builder.
 * @param name Table initializer name.
 * @param table The table `[V, H]` f32.
 * @param dims `[V, H]`.
 * @param ids Token ids `[S]` i64.
 * @param plan Precision and storage.
 * @returns The gathered rows `[S, H]` f32 (`embedded`), and the table as an f32 initializer
 *   (`table`, f32 only) or as quantized initializers (`quantized`), for a tied LM head.
 */
export function embedding(
  g: GraphBuilder,
  name: string,
  table: Float32Array,
  dims: [number, number],
  ids: string,
  plan: WeightPlan,
): { table?: string; quantized?: GraphQuantized; embedded: string } {
  if (plan.precision === "f32") {
    const t = g.initializer(name, table, dims, { external: plan.external });
    return { table: t, embedded: g.op("Gather", [t, ids], { axis: 0 }) };
  }
  const [V, H] = dims;
  if (plan.embedding === "quantized" && H % plan.blockSize === 0) {
    const w = quantizedWeight(g, name, table, V, H, plan);
    const { q } = w;
    // GatherBlockQuantized reads the same bytes as 2-D tensors: codes [V, H * bits / 8],
    // scales [V, kBlocks], zero points [V, zpRow]. The weight file stores them once.
    const ext = { external: plan.external };
    const inputs = [
      g.initializer(`${name}_gq`, q.codes, [V, (H * q.bits) / 8], ext),
      ids,
      g.initializer(`${name}_gscales`, q.scales, [V, q.kBlocks], ext),
    ];
    if (q.zeroPoints) {
      const zpRow = q.zeroPoints.length / V;
      inputs.push(g.initializer(`${name}_gzp`, q.zeroPoints, [V, zpRow], ext));
    }
    const embedded = g.op("GatherBlockQuantized", inputs, {
      gather_axis: 0,
      quantize_axis: 1,
      block_size: q.blockSize,
      bits: q.bits,
    }, "com.microsoft"); // [S, H] f32
    return { quantized: w, embedded };
  }
  const half = new Uint16Array(new Float16Array(table).buffer); // [V, H] f16 bits
  const t = g.initializer(`${name}_f16`, half, dims, { external: plan.external });
  const rows = g.op("Gather", [t, ids], { axis: 0 }); // [S, H] f16
  return { embedded: g.op("Cast", [rows], { to: 1 }) };
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

/**
 * A residual add followed by RMS norm, as one `com.microsoft.SkipSimplifiedLayerNormalization`
 * node (one node where the graph had two, per norm of every layer).
 *
 * @param g The graph builder.
 * @param x The residual stream `[S, H]`.
 * @param delta What is added to it `[S, H]`.
 * @param scale The norm's weight `[H]`.
 * @param eps Epsilon.
 * @returns `sum` = x + delta and `normed` = rmsnorm(sum) · scale, both `[S, H]` f32.
 */
export function addRmsNorm(
  g: GraphBuilder,
  x: string,
  delta: string,
  scale: string,
  eps: number,
): { sum: string; normed: string } {
  const normed = g.fresh("normed"), sum = g.fresh("residual");
  g.node("SkipSimplifiedLayerNormalization", [delta, x, scale], [normed, "", "", sum], {
    epsilon: new FloatAttr(eps),
  }, "com.microsoft");
  return { sum, normed };
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

/** The LM head of {@linkcode emitHead}: `[V, H]` (often the embedding table). */
export interface HeadWeight {
  /** Initializer name (f32) or prefix (quantized). */
  name: string;
  /**
   * Reads the weight `[V, H]` f32, only when the head cannot reuse an initializer (so a tied
   * embedding table need not stay in memory while the layers are built).
   */
  data: () => Float32Array;
  /** An f32 initializer already holding `data` (a tied embedding table), reused at `f32`. */
  initializer?: string;
  /** The tied embedding table already quantized at this precision, reused. */
  quantized?: GraphQuantized;
}

/**
 * Emits the shared tail: `hidden` `[S, H]` (the final-norm output) and `logits`
 * `[S, V]` = hidden · head^T, with the head stored `[V, H]` (often the embedding),
 * at the plan's precision.
 *
 * @param g The graph builder.
 * @param normed The final-norm output `[S, H]`.
 * @param config The model config (widths).
 * @param plan Precision and storage.
 * @param head The head weight.
 */
export function emitHead(
  g: GraphBuilder,
  normed: string,
  config: ModelConfig,
  plan: WeightPlan,
  head: HeadWeight,
): void {
  const V = config.vocabSize, H = config.hiddenSize;
  g.op("Identity", [normed], {}, "", "hidden");
  g.output("hidden", "float32", ["S", H]);
  // Logits only for the rows asked: a prefill needs the last one, not [S, V] (the LM head is
  // the largest product of a long prompt's forward when the vocabulary is large).
  const rows = g.input("logit_rows", "int64", ["R"]);
  const picked = g.op("Gather", ["hidden", rows], { axis: 0 }); // [R, H] f32
  if (plan.precision === "f32" && plan.linear === "packed" && !head.initializer) {
    // An untied head is packed like the projections; a tied one stays the embedding table
    // (a packed copy would hold the largest matrix twice).
    const y = packedLinear(g, picked, head.name, head.data(), V, H, undefined, plan); // [R, V]
    g.op("Identity", [y], {}, "", "logits");
  } else if (plan.precision === "f32" || plan.lmHead === "f32") {
    const w = (plan.precision === "f32" ? head.initializer : undefined) ??
      g.initializer(head.name, head.data(), [V, H], { external: plan.external });
    g.op("Gemm", [picked, w], { transB: 1 }, "", "logits");
  } else if (head.quantized === undefined && packsQuantized(plan)) {
    // An untied head is packed like the projections. A tied one stays MatMulNBits over the
    // embedding's bytes: no second copy of the largest matrix, and measured faster for one row
    // (SmolLM2-135M shape, q4: 6.2 ms per token against 7.2 ms with a packed copy).
    const q = quantize(head.name, head.data(), V, H, plan, "out_in");
    g.op("Identity", [packedLinearQ(g, picked, head.name, q, undefined, plan)], {}, "", "logits");
  } else {
    const w = head.quantized ?? quantizedWeight(g, head.name, head.data(), V, H, plan);
    g.op("Identity", [matMulNBits(g, picked, w, undefined, plan)], {}, "", "logits");
  }
  g.output("logits", "float32", ["R", V]);
}

/** Serialises a finished decoder graph with its metadata. */
export function decoderGraph(
  g: GraphBuilder,
  config: ModelConfig,
  options: BuildOptions,
): DecoderGraph {
  const opsets: Record<string, number> = { "": 21, "com.microsoft": 1 };
  if (usesCustomOps(options)) opsets["specdec"] = 1;
  return {
    model: g.toModel(opsets),
    externals: g.externals,
    numLayers: config.numLayers,
    kvHeads: config.numKvHeads,
    headDim: config.headDim,
    maxLength: options.kvSlots ?? options.maxLength,
    vocabSize: config.vocabSize,
    hiddenSize: config.hiddenSize,
  };
}

/**
 * Whether a build's graph uses the `specdec` custom op domain (the TreeAttention op, or
 * PackedLinear for f32 projections): its session must register it.
 *
 * @param options Build options.
 * @returns True when the session needs the specdec custom ops.
 */
export function usesCustomOps(options: BuildOptions): boolean {
  const plan = weightPlan(options);
  return options.attention === "tree" ||
    (plan.linear === "packed" && (plan.precision === "f32" || packsQuantized(plan)));
}
