/**
 * `precisionCostTable`: V(g), g = 1..8, of the target at each weight
 * precision, at the precision section's fixed context.
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import type { BenchmarkResults } from "../results.ts";

/**
 * The V(g)-by-precision table (nothing without a precision section).
 *
 * @param results The benchmark results.
 * @returns Markdown lines.
 */
export function precisionCostTable(results: BenchmarkResults): string[] {
  const p = results.precision;
  if (p === undefined || p.costs.length === 0) return [];
  const sizes = [
    ...new Set(p.costs.flatMap((c) => Object.keys(c.verifyMs).map(Number))),
  ].sort((a, b) => a - b).filter((g) => g > 1);
  const out = [`### V(g) by weight precision (${p.contextTokens}-token context)`, ""];
  out.push(
    "Time of a g-token target forward after a context of real prompt tokens, divided by a " +
      "one-token forward at the same precision (fastest of the repetitions). Quantized weights " +
      "make one token cheaper and extra verified tokens relatively dearer: the precision rows " +
      "below pick K and trees per precision. The projections run specdec's PackedLinear (f32) and " +
      "PackedLinearQ (q8, q4) ops; a row marked Gemm or MatMulNBits times the same weights on " +
      "ONNX Runtime's kernels. q8 and q4 run specdec's TreeAttention op (exact trees); a row " +
      "marked GroupQueryAttention times the same weights with ONNX Runtime's op.",
  );
  out.push("");
  out.push(`| Weights | 1-token forward ms | ${sizes.map((g) => `V(${g})`).join(" | ")} |`);
  out.push(`|---|---:|${sizes.map(() => "---:").join("|")}|`);
  for (const c of p.costs) {
    const one = c.verifyMs["1"];
    const v = (g: number): string => {
      const ms = c.verifyMs[String(g)];
      return ms !== undefined && one !== undefined && one > 0 ? formatNumber.fixed(ms / one) : "-";
    };
    const label = c.linear === "gemm"
      ? `${c.weights} (${c.weights === "f32" ? "Gemm" : "MatMulNBits"})`
      : c.attention === "gqa"
      ? `${c.weights} (GroupQueryAttention)`
      : c.attention === "tree"
      ? `${c.weights} (TreeAttention)`
      : c.weights;
    out.push(`| ${label} | ${formatNumber.ms(one)} | ${sizes.map(v).join(" | ")} |`);
  }
  return out;
}
