/**
 * `machineInfo`: where the benchmark ran (CPU, cores, ONNX Runtime, Deno, load).
 *
 * @module
 */

import os from "node:os";
import { nativeVersions } from "../../mod.ts";
import { loadAverage } from "./load_average.ts";
import type { BenchmarkResults } from "./results.ts";

/**
 * Describes this machine for the results file.
 *
 * @param threads ONNX Runtime intra-op threads of the one-session methods.
 * @returns The `machine` record (its load average taken now).
 */
export function machineInfo(threads: number): BenchmarkResults["machine"] {
  // /proc/cpuinfo needs --allow-all in Deno; node:os reads the same model name with --allow-sys.
  let cpuModel = "unknown CPU";
  try {
    cpuModel = os.cpus()[0]?.model.trim() ?? cpuModel;
  } catch { /* no --allow-sys */ }
  return {
    cpuModel,
    cores: navigator.hardwareConcurrency,
    ortVersion: nativeVersions().onnxruntime,
    deno: Deno.version.deno,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    loadAverage: loadAverage(),
    threads,
  };
}
