/**
 * Column-panel packing of f32 weights for `specdec.PackedLinear`.
 *
 * @module
 */

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
