/**
 * Block-wise weight quantization in the layout of ONNX Runtime's
 * `com.microsoft.MatMulNBits`: each output row of a `[N, K]` weight is cut into
 * blocks of `blockSize` input columns; a block stores `bits`-bit codes, an f32
 * scale and (asymmetric) a zero point, and dequantizes as `(code - zero) * scale`.
 *
 * @module
 */

/** Weight precisions a model can be loaded at. */
export type WeightPrecision = "f32" | "q8" | "q4";

/** The precisions accepted by `weights` options and `--weights`. */
export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ["f32", "q8", "q4"];

/**
 * Checks a `weights` option before any file is read.
 *
 * @param value The option's value (`undefined` means the default, f32).
 * @param name The option's name, for the message.
 * @throws {TypeError} Naming the option and the allowed values.
 */
export function checkWeightsOption(value: unknown, name: string): void {
  if (value === undefined) return;
  if (!(WEIGHT_PRECISIONS as readonly unknown[]).includes(value)) {
    throw new TypeError(
      `${name} must be one of ${WEIGHT_PRECISIONS.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
}

/**
 * Checks an `activations` option: `f32` or `int8`, and `int8` only with q8/q4 weights.
 *
 * @param value The option's value.
 * @param weights The weights option it goes with.
 * @throws {TypeError} Naming the option and the value.
 */
export function checkActivationsOption(value: unknown, weights: WeightPrecision | undefined): void {
  if (value === undefined) return;
  if (value !== "f32" && value !== "int8") {
    throw new TypeError(`activations must be "f32" or "int8", got ${JSON.stringify(value)}`);
  }
  if (value === "int8" && (weights ?? "f32") === "f32") {
    throw new TypeError(`activations "int8" needs weights "q8" or "q4" (weights is f32)`);
  }
}

/** A weight quantized for `MatMulNBits`. */
export interface QuantizedWeight {
  /** Codes `[N, kBlocks, blockSize * bits / 8]` u8 (4-bit: element 2j in the low nibble). */
  codes: Uint8Array;
  /** Scales `[N * kBlocks]` f32. */
  scales: Float32Array;
  /**
   * Zero points, asymmetric only: 8-bit `[N * kBlocks]` u8; 4-bit `[N * ceil(kBlocks / 2)]` u8
   * (block 2j in the low nibble). Symmetric weights use the kernel's default `2^(bits-1)`.
   */
  zeroPoints?: Uint8Array;
  /** Output rows. */
  n: number;
  /** Input columns (before padding to whole blocks). */
  k: number;
  /** Blocks per row: `ceil(k / blockSize)`. */
  kBlocks: number;
  /** Bits per code. */
  bits: 4 | 8;
  /** Columns per block. */
  blockSize: number;
}

/** Options of {@linkcode quantizeBlockwise}. */
export interface QuantizeOptions {
  /** Bits per code. */
  bits: 4 | 8;
  /** Columns per block (a power of two >= 16; default 32). */
  blockSize?: number;
  /** Store zero points (asymmetric range per block; default true). */
  zeroPoints?: boolean;
  /**
   * Layout of `w`: `"out_in"` (`[N, K]`, Hugging Face Linear) or `"in_out"` (`[K, N]`, GPT-2
   * Conv1D). Default `"out_in"`.
   */
  layout?: "out_in" | "in_out";
}

/**
 * Quantizes a weight block-wise. Columns past `k` in the last block are zero.
 *
 * @example 4-bit codes of a 2 x 32 weight
 * ```ts
 * import { quantizeBlockwise } from "@specdec/specdec";
 * const w = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
 * const q = quantizeBlockwise(w, 2, 32, { bits: 4 });
 * if (q.codes.length !== 2 * 16 || q.scales.length !== 2) throw new Error("layout");
 * ```
 *
 * @param w Weight data, f32, in `options.layout`.
 * @param n Output rows N.
 * @param k Input columns K.
 * @param options Bits, block size, zero points, layout.
 * @returns Codes, scales and zero points.
 * @throws {RangeError} When sizes do not match, the block size is not a power of two >= 16, or
 *   a value is not finite (its row and column are named).
 */
export function quantizeBlockwise(
  w: Float32Array,
  n: number,
  k: number,
  options: QuantizeOptions,
): QuantizedWeight {
  const { bits } = options;
  const blockSize = options.blockSize ?? 32;
  const asym = options.zeroPoints ?? true;
  const inOut = options.layout === "in_out";
  if (bits !== 4 && bits !== 8) throw new RangeError(`bits must be 4 or 8, got ${bits}`);
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new RangeError(`blockSize must be a power of two >= 16, got ${blockSize}`);
  }
  if (!Number.isInteger(n) || !Number.isInteger(k) || n < 1 || k < 1 || w.length !== n * k) {
    throw new RangeError(`weight has ${w.length} values, expected ${n} x ${k}`);
  }
  const kBlocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  const levels = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const codes = new Uint8Array(n * kBlocks * blob); // [N, kBlocks, blob] u8
  const scales = new Float32Array(n * kBlocks); // [N * kBlocks] f32
  const zpRow = bits === 8 ? kBlocks : Math.ceil(kBlocks / 2);
  const zeroPoints = asym ? new Uint8Array(n * zpRow) : undefined; // [N, zpRow] u8
  const block = new Float32Array(blockSize); // one block's values, zero-padded
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < kBlocks; b++) {
      const c0 = b * blockSize;
      const cols = Math.min(blockSize, k - c0);
      block.fill(0);
      for (let c = 0; c < cols; c++) block[c] = inOut ? w[(c0 + c) * n + r]! : w[r * k + c0 + c]!;
      let lo = 0, hi = 0, amax = 0, extreme = 0;
      for (let c = 0; c < cols; c++) {
        const v = block[c]!;
        if (!Number.isFinite(v)) {
          throw new RangeError(`value ${v} at row ${r}, column ${c0 + c} is not finite`);
        }
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (Math.abs(v) > amax) {
          amax = Math.abs(v);
          extreme = v;
        }
      }
      let scale: number, zero: number;
      if (asym) {
        scale = (hi - lo) / levels;
        zero = scale > 0 ? Math.min(levels, Math.max(0, Math.round(-lo / scale))) : mid;
      } else {
        scale = extreme / -mid; // the largest magnitude maps to code 0 (value -mid)
        zero = mid;
      }
      scale = Math.fround(scale);
      const inv = scale !== 0 ? 1 / scale : 0;
      const at = r * kBlocks + b;
      scales[at] = scale;
      if (zeroPoints) {
        if (bits === 8) zeroPoints[r * zpRow + b] = zero;
        else zeroPoints[r * zpRow + (b >> 1)]! |= zero << ((b & 1) * 4);
      }
      const base = at * blob;
      for (let c = 0; c < blockSize; c++) {
        const q = Math.min(levels, Math.max(0, Math.round(block[c]! * inv) + zero));
        if (bits === 8) codes[base + c] = q;
        else codes[base + (c >> 1)]! |= q << ((c & 1) * 4);
      }
    }
  }
  return {
    codes,
    scales,
    ...(zeroPoints ? { zeroPoints } : {}),
    n,
    k,
    kBlocks,
    bits,
    blockSize,
  };
}

/**
 * Dequantizes a {@linkcode QuantizedWeight} back to `[N, K]` f32 (for tests and quality checks).
 *
 * @example Round trip
 * ```ts
 * import { dequantizeBlockwise, quantizeBlockwise } from "@specdec/specdec";
 * const w = Float32Array.from({ length: 32 }, (_, i) => i / 31);
 * const back = dequantizeBlockwise(quantizeBlockwise(w, 1, 32, { bits: 8 }));
 * if (Math.abs(back[31]! - 1) > 1e-2) throw new Error("round trip");
 * ```
 *
 * @param q The quantized weight.
 * @returns Row-major `[N, K]` f32.
 */
export function dequantizeBlockwise(q: QuantizedWeight): Float32Array {
  const { n, k, kBlocks, bits, blockSize } = q;
  const blob = (blockSize * bits) / 8;
  const zpRow = bits === 8 ? kBlocks : Math.ceil(kBlocks / 2);
  const out = new Float32Array(n * k); // [N, K] f32
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < kBlocks; b++) {
      const at = r * kBlocks + b;
      const scale = q.scales[at]!;
      let zero = 1 << (bits - 1);
      if (q.zeroPoints) {
        const z = q.zeroPoints[r * zpRow + (bits === 8 ? b : b >> 1)]!;
        zero = bits === 8 ? z : (z >> ((b & 1) * 4)) & 15;
      }
      for (let c = 0; c < blockSize && b * blockSize + c < k; c++) {
        const byte = q.codes[at * blob + (bits === 8 ? c : c >> 1)]!;
        const code = bits === 8 ? byte : (byte >> ((c & 1) * 4)) & 15;
        out[r * k + b * blockSize + c] = (code - zero) * scale;
      }
    }
  }
  return out;
}
