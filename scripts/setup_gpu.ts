/**
 * Sets up ONNX Runtime's CUDA execution provider, only on request: fetches npm
 * `com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9` (the CUDA 13 provider libraries of ONNX
 * Runtime 1.29, about 230 MB) into the git-ignored `.cache/onnxruntime-gpu/`, and assembles
 * `.cache/onnxruntime-gpu/lib/`, where the default package's `libonnxruntime.so` and the providers
 * sit side by side (ONNX Runtime loads providers from its own folder).
 *
 * ```sh
 * deno task setup:gpu            # fetch (once), assemble, print how to build against it
 * deno task setup:gpu --dir DIR  # somewhere else
 * ```
 *
 * It needs `npm` and `tar` (the registry tarball is fetched with `npm pack`). Then build the
 * shim against that library, so sessions can append the CUDA provider
 * (`SessionOptions.cudaDevice`):
 *
 * ```sh
 * SPECDEC_ORT_LIBRARY=<printed path>/libonnxruntime.so deno task build:native --force
 * ```
 *
 * The provider itself needs the CUDA 13 runtime, cuBLAS 13 and cuRAND on the loader path, and a
 * GPU with its driver; the shim's error names what is missing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { findOrt } from "./build.ts";

/** The npm package of ONNX Runtime with the CUDA execution provider. */
export const ORT_GPU_PACKAGE = "com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9";

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  } catch (cause) {
    throw new Error(`setup:gpu needs '${cmd}' on the PATH`, { cause });
  }
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`'${cmd} ${args.join(" ")}' failed (exit ${out.code}): ${err}`);
  }
}

function* walk(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(path);
    else yield path;
  }
}

/** The first file under `dir` named exactly `name`. */
function find(dir: string, name: string): string | undefined {
  for (const path of walk(dir)) {
    if (path.slice(path.lastIndexOf("/") + 1) === name) return path;
  }
  return undefined;
}

/** What {@linkcode setupGpu} assembled. */
export interface GpuRuntimePaths {
  /** Folder holding the runtime: `libonnxruntime.so` and its providers, side by side. */
  dir: string;
  /** `libonnxruntime.so` in {@linkcode GpuRuntimePaths.dir}: build the shim against this one. */
  library: string;
  /** `libonnxruntime_providers_cuda.so` in {@linkcode GpuRuntimePaths.dir}. */
  cudaProvider: string;
}

/** Provider libraries taken from the GPU package into the runtime folder. */
const PROVIDERS = ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"];

function link(target: string, path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  Deno.symlinkSync(target, path);
}

/**
 * Fetches and unpacks {@linkcode ORT_GPU_PACKAGE} into `dir/package` unless it is already there,
 * then assembles `dir/lib/`: links to ONNX Runtime's `libonnxruntime.so` from the default npm
 * package (the GPU package holds only the providers, the runtime is the same build) and to the
 * GPU package's provider libraries. ONNX Runtime loads providers from the folder of the
 * `libonnxruntime.so` the loader named, so they must sit side by side.
 *
 * @param dir Target folder (created when missing).
 * @param root Repository root, whose `node_modules/` holds the default ONNX Runtime package.
 * @returns The paths of the assembled runtime.
 * @throws {Error} Naming what is missing: `npm`, `tar`, or a library the packages should hold.
 */
export async function setupGpu(dir: string, root: string): Promise<GpuRuntimePaths> {
  Deno.mkdirSync(dir, { recursive: true });
  const unpacked = `${dir}/package`;
  let present = false;
  try {
    present = Deno.statSync(unpacked).isDirectory;
  } catch {
    present = false;
  }
  if (!present) {
    console.error(`Fetching ${ORT_GPU_PACKAGE} (about 230 MB) into ${dir} ...`);
    await run("npm", ["pack", ORT_GPU_PACKAGE, "--pack-destination", dir, "--silent"], dir);
    const tgz = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".tgz"));
    if (tgz === undefined) throw new Error(`npm pack left no .tgz in ${dir}`);
    await run("tar", ["-xzf", tgz.name], dir); // unpacks into ./package
    Deno.removeSync(`${dir}/${tgz.name}`);
  }
  const lib = `${dir}/lib`;
  Deno.mkdirSync(lib, { recursive: true });
  const runtime = findOrt(root, null).library;
  link(Deno.realPathSync(runtime), `${lib}/libonnxruntime.so`);
  for (const name of PROVIDERS) {
    const found = find(unpacked, name);
    if (found === undefined) throw new Error(`${ORT_GPU_PACKAGE} in ${unpacked} lacks ${name}`);
    link(Deno.realPathSync(found), `${lib}/${name}`);
  }
  return {
    dir: lib,
    library: `${lib}/libonnxruntime.so`,
    cudaProvider: `${lib}/libonnxruntime_providers_cuda.so`,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { dir: { type: "string" } } });
  const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
  const paths = await setupGpu(values.dir ?? `${root}/.cache/onnxruntime-gpu`, root);
  console.log(`ONNX Runtime (CUDA build): ${paths.library}`);
  console.log(`CUDA execution provider:   ${paths.cudaProvider}`);
  console.log("Build the shim against it:");
  console.log(`  SPECDEC_ORT_LIBRARY=${paths.library} deno task build:native --force`);
}
