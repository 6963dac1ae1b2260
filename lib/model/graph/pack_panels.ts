/**
 * Column-panel packing of f32 weights for `specdec.PackedLinear`.
 *
 * @module
 */

import type { QuantizedWeight } from "./quantize_blockwise.ts";

/** Output columns per panel of `specdec.PackedLinear` (`SD_PL_PANEL` in native/src/packed_linear.h). */
export const PANEL = 32;

/**
 * Packs a weight into column panels: `packed[p][j][c] = W[p * 32 + c][j]` for output column
 * `p * 32 + c` and input `j`, zeros past column `n`. Each panel is one contiguous `[k, 32]`
 * stream, which `specdec.PackedLinear` reads once for up to 8 rows.
 *
 * @param data The weight, f32: `[n, k]` (`out_in`, Hugging Face's `nn.Linear`) or `[k, n]` (`in_out`).
 * @param n Output width.
 * @param k Input width.
 * @param layout Layout of `data`.
 * @returns The packed weight `[ceil(n / 32), k, 32]` f32.
 * @throws {RangeError} When `data` does not hold `n * k` values.
 */
export function packPanels(
  data: Float32Array,
  n: number,
  k: number,
  layout: "out_in" | "in_out" = "out_in",
): Float32Array {
  if (data.length !== n * k) {
    throw new RangeError(`packPanels: expected ${n} x ${k} = ${n * k} values, got ${data.length}`);
  }
  const panels = Math.ceil(n / PANEL);
  const out = new Float32Array(panels * k * PANEL); // [panels, k, 32] f32, zero padded
  for (let p = 0; p < panels; p++) {
    const width = Math.min(PANEL, n - p * PANEL);
    for (let c = 0; c < width; c++) {
      const col = p * PANEL + c;
      let at = p * k * PANEL + c;
      if (layout === "out_in") {
        const row = col * k; // W[col, :] is contiguous
        for (let j = 0; j < k; j++, at += PANEL) out[at] = data[row + j]!;
      } else {
        for (let j = 0; j < k; j++, at += PANEL) out[at] = data[j * n + col]!;
      }
    }
  }
  return out;
}

/** A block-quantized weight in the panels of `specdec.PackedLinearQ`. */
export interface PackedQuantized {
  /** Codes `[ceil(n / 32), kBlocks * 32, 32 * bits / 8]` u8 (see {@linkcode packQuantizedPanels}). */
  codes: Uint8Array;
  /** Scales `[ceil(n / 32), kBlocks, 32]` f32, 0 past column `n`. */
  scales: Float32Array;
}

/**
 * Repacks symmetric block-quantized weights from `MatMulNBits`' layout (blocks of 32) into the
 * 32-column panels of `specdec.PackedLinearQ`: for panel `p`, input `j` and column `c`,
 * 8-bit byte `c` holds the signed value `code - 128`; 4-bit byte `c < 16` holds column `c` in
 * its low nibble and column `c + 16` in its high one, each the unsigned code (value
 * `code - 8`). Columns past `n` are zero-valued with scale 0; inputs past `k` keep the
 * quantizer's zero values.
 *
 * @param q Weight quantized by `quantizeBlockwise` with block size 32 and no zero points.
 * @returns The packed codes and scales.
 * @throws {RangeError} When `q` has zero points or another block size.
 */
export function packQuantizedPanels(q: QuantizedWeight): PackedQuantized {
  if (q.zeroPoints !== undefined || q.blockSize !== PANEL) {
    throw new RangeError(
      `packQuantizedPanels: symmetric blocks of ${PANEL} needed, got block ${q.blockSize}${
        q.zeroPoints ? " with zero points" : ""
      }`,
    );
  }
  const { n, kBlocks, bits } = q;
  const panels = Math.ceil(n / PANEL);
  const rows = kBlocks * PANEL; // inputs, padded to whole blocks
  const rowBytes = (PANEL * bits) / 8;
  const blob = (PANEL * bits) / 8; // bytes of one block of one column in q.codes
  const codes = new Uint8Array(panels * rows * rowBytes); // [panels, rows, rowBytes] u8
  const scales = new Float32Array(panels * kBlocks * PANEL); // [panels, kBlocks, 32] f32
  // The code of column c, input j (unsigned, MatMulNBits layout: [n, kBlocks, blob]).
  const code = (c: number, j: number): number => {
    const at = (c * kBlocks + Math.floor(j / PANEL)) * blob;
    const e = j % PANEL;
    if (bits === 8) return q.codes[at + e]!;
    const byte = q.codes[at + (e >> 1)]!;
    return e % 2 === 0 ? byte & 15 : byte >> 4;
  };
  for (let p = 0; p < panels; p++) {
    for (let b = 0; b < kBlocks; b++) {
      for (let c = 0; c < PANEL && p * PANEL + c < n; c++) {
        scales[(p * kBlocks + b) * PANEL + c] = q.scales[(p * PANEL + c) * kBlocks + b]!;
      }
    }
    for (let j = 0; j < rows; j++) {
      const at = (p * rows + j) * rowBytes;
      if (bits === 8) {
        for (let c = 0; c < PANEL; c++) {
          const col = p * PANEL + c;
          codes[at + c] = col < n ? (code(col, j) - 128) & 255 : 0;
        }
      } else {
        for (let c = 0; c < 16; c++) {
          const lo = p * PANEL + c, hi = lo + 16;
          codes[at + c] = (lo < n ? code(lo, j) : 8) | ((hi < n ? code(hi, j) : 8) << 4);
        }
      }
    }
  }
  return { codes, scales };
}

/**
 * Interleaves the panels of two packed weights of the same shape, `[a0, b0, a1, b1, ...]`: the
 * layout of a gated MLP's gate (`a`) and up (`b`) projections for the `glu` mode of
 * `specdec.PackedLinear` and `specdec.PackedLinearQ`, which compute both panels of a pair in
 * one work item and store `silu(gate) * up`.
 *
 * @param a First weight, `panels` equal panels (codes, scales or f32 values).
 * @param b Second weight, the same length.
 * @param panels Panels in each.
 * @returns `[2 * panels, ...]`, a's panel `p` at `2p`, b's at `2p + 1`.
 * @throws {RangeError} When the lengths differ or do not split into `panels` panels.
 */
export function interleavePanels<T extends Float32Array | Uint8Array>(
  a: T,
  b: T,
  panels: number,
): T {
  if (a.length !== b.length || panels < 1 || a.length % panels !== 0) {
    throw new RangeError(
      `interleavePanels: two weights of ${panels} equal panels needed, got ${a.length} and ${b.length} values`,
    );
  }
  const size = a.length / panels;
  const out = new (a.constructor as { new (n: number): T })(2 * a.length); // [2 * panels, ...]
  for (let p = 0; p < panels; p++) {
    out.set(a.subarray(p * size, (p + 1) * size), 2 * p * size);
    out.set(b.subarray(p * size, (p + 1) * size), (2 * p + 1) * size);
  }
  return out;
}
