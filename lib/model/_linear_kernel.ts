/**
 * `resolveLinearKernel`: the projections' kernel of a session, checked, or the default for
 * this CPU.
 *
 * @module
 */

import type { LinearKernel } from "./graph/decoder_graph.ts";
import { cpuKernelLevel } from "../runtime/library.ts";

/**
 * Checks a `linear` option, or picks the default: with `packedWhereFast`, specdec's packed
 * kernels where their AVX-512 variant runs (`cpuKernelLevel()` 4), ONNX Runtime's Gemm /
 * MatMulNBits elsewhere (the AVX2 and portable variants are correct but far slower: the AVX2
 * one, forced on this project's AVX-512 machine, ran 8 rows 26x slower); without it, `gemm`.
 *
 * @param linear The option as given.
 * @param packedWhereFast Whether the packed kernels are this session's default where they are
 *   fast (models on the CPU; not the drafting heads, whose one-row forwards measured no faster).
 * @returns The kernel.
 * @throws {TypeError} When the option is neither `"packed"` nor `"gemm"`.
 */
export function resolveLinearKernel(linear: unknown, packedWhereFast: boolean): LinearKernel {
  if (linear === undefined) return packedWhereFast && cpuKernelLevel() >= 4 ? "packed" : "gemm";
  if (linear !== "packed" && linear !== "gemm") {
    throw new TypeError(`linear must be "packed" or "gemm", got ${JSON.stringify(linear)}`);
  }
  return linear;
}
