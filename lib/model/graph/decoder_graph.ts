/**
 * The contract every built decoder graph follows (names, shapes), shared by
 * the Llama and GPT-2 builders and by `CausalLM`.
 *
 * Inputs: `input_ids` `[S]` i64, `position_ids` `[1, S]` i64, `seqlens_k` `[1]` i32
 * (`P + S - 1`), `total_sequence_length` `[1]` i32 (`P + S`), `attention_bias`
 * `[1, 1, S, P + S]` f32, `logit_rows` `[R]` i64 (the rows that get logits, ascending: all of
 * them to verify, the last ones after a prefill), and per layer `past_key.N` / `past_value.N`
 * `[1, kvHeads, maxLength, headDim]` f32.
 * Outputs: `logits` `[R, vocab]` f32 (row r: new token `logit_rows[r]`), `hidden` `[S, hidden]`
 * f32 (after the final norm), and per layer `present_key.N` / `present_value.N` (same buffers as the
 * past inputs: written in place at slots `[P, P + S)`).
 *
 * @module
 */

import type { AttentionKind } from "./_attention.ts";
import type { ExternalSink, ExternalTensor } from "../onnx/graph_builder.ts";
import type { WeightPrecision } from "./quantize_blockwise.ts";

export type { AttentionKind } from "./_attention.ts";

/** Where a builder reads f32 weights (a safetensors file or several shards). */
export interface WeightSource {
  /**
   * @param name Tensor name.
   * @returns Whether it exists.
   */
  has(name: string): boolean;
  /**
   * @param name Tensor name.
   * @param shape Expected shape (checked).
   * @returns Row-major f32 data.
   */
  float32(name: string, shape?: number[]): Float32Array;
}

/** Options common to graph builders. */
export interface BuildOptions {
  /** Positions in tokens (rotary and position tables cover `[0, maxLength)`). */
  maxLength: number;
  /**
   * KV buffer length in slots (default `maxLength`): `CausalLM` adds a slot for the padding
   * row of its batch-invariant one-token forwards.
   */
  kvSlots?: number;
  /** Attention operator (default `gqa`). */
  attention?: AttentionKind;
  /**
   * Where rotary embeddings are applied (llama family): `attention` (GroupQueryAttention's
   * `do_rotary`, needs head width % 16 == 0) or `graph` (rotate-half before attention).
   * Default: `attention` when the head width allows it.
   */
  rotary?: "attention" | "graph";
  /** Keep weights out of the model bytes, for the session to take by reference (default true). */
  externalWeights?: boolean;
  /**
   * Precision of the projection weights (default `f32`): `q8` / `q4` quantize block-wise at
   * build time into `com.microsoft.MatMulNBits`.
   */
  weights?: WeightPrecision;
  /** Quantization details (defaults: block 32, symmetric, accuracy level 4, quantized embedding and LM head). */
  quantization?: QuantizationOptions;
  /**
   * The projections' kernel (default `gemm`): `packed` stores each weight in column panels for
   * `specdec.PackedLinear` (f32) or `specdec.PackedLinearQ` (q8/q4 with symmetric blocks of 32)
   * (the session needs the specdec custom ops), whose verification forwards of a few rows cost
   * little more than one row; `gemm` is ONNX `Gemm` (f32) or `MatMulNBits` (q8/q4).
   */
  linear?: LinearKernel;
  /**
   * Activations of `specdec.PackedLinearQ` (q8/q4 with `linear: "packed"`): `f32` (default: each
   * weight dequantized, exact multiply-adds) or `int8` (each row quantized per block of 32 inputs,
   * integer dot products: about 4x faster with AVX-512 VNNI, llama.cpp-like rounding; for
   * drafters, whose numerics never change a speculative decoder's output).
   */
  activations?: ActivationPrecision;
  /** Write external weights here as they are made (a prepared-model cache file). */
  sink?: ExternalSink;
}

/** The projections' kernel ({@linkcode BuildOptions.linear}). */
export type LinearKernel = "packed" | "gemm";

/** Activations of quantized packed projections ({@linkcode BuildOptions.activations}). */
export type ActivationPrecision = "f32" | "int8";

/** Details of block-wise quantization (for measurements; the defaults are the measured best). */
export interface QuantizationOptions {
  /** Columns per block (power of two >= 16). */
  blockSize?: number;
  /** Asymmetric blocks with zero points (default false: symmetric measured as good and faster). */
  zeroPoints?: boolean;
  /** `MatMulNBits` accuracy level: 0 (f32 activations) or 4 (int8 activations). */
  accuracyLevel?: 0 | 1 | 2 | 3 | 4;
  /** The embedding table: quantized (default) or f16. */
  embedding?: "quantized" | "f16";
  /** The LM head: quantized (default) or f32. */
  lmHead?: "quantized" | "f32";
}

/** A built decoder graph. */
export interface DecoderGraph {
  /** `ModelProto` bytes. */
  model: Uint8Array;
  /** Weights left out of `model`, to hand over as external initializers. */
  externals: Map<string, ExternalTensor>;
  /** Number of layers (KV buffer pairs). */
  numLayers: number;
  /** Key/value heads per layer. */
  kvHeads: number;
  /** Head width. */
  headDim: number;
  /** KV buffer length in slots (`kvSlots`, else `maxLength`). */
  maxLength: number;
  /** Logits per position. */
  vocabSize: number;
  /** Hidden width. */
  hiddenSize: number;
}

/** Value for masked entries of `attention_bias` (finite to keep softmax NaN-free). */
export const MASKED = -3.0e38;

/**
 * Declares the shared inputs of the decoder contract.
 *
 * @param g The graph builder.
 * @returns The names (`input_ids`, `position_ids`, `seqlens_k`, `total_sequence_length`, `attention_bias`).
 */
export function declareDecoderInputs(
  g: import("../onnx/graph_builder.ts").GraphBuilder,
): { ids: string; positions: string; seqlensK: string; total: string; bias: string } {
  return {
    ids: g.input("input_ids", "int64", ["S"]),
    positions: g.input("position_ids", "int64", [1, "S"]),
    seqlensK: g.input("seqlens_k", "int32", [1]),
    total: g.input("total_sequence_length", "int32", [1]),
    bias: g.input("attention_bias", "float32", [1, 1, "S", "T"]),
  };
}
