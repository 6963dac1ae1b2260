/**
 * Fetches the CUDA build of ONNX Runtime, only on request: npm
 * `com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9` (ONNX Runtime 1.29 with the CUDA 13
 * execution provider, about 230 MB), into the git-ignored `.cache/onnxruntime-gpu/`.
 *
 * ```sh
 * deno task setup:gpu            # fetch (once) and print how to build against it
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
 * @module
 */

import { parseArgs } from "node:util";

/** The npm package of ONNX Runtime with the CUDA execution provider. */
export const ORT_GPU_PACKAGE = "com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9";

/** What {@linkcode setupGpu} found after unpacking. */
export interface GpuRuntimePaths {
  /** Folder the package was unpacked into. */
  dir: string;
  /** `libonnxruntime.so` of the CUDA build. */
  library: string;
  /** `libonnxruntime_providers_cuda.so`, next to it. */
  cudaProvider: string;
}

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

function find(dir: string, name: RegExp): string | undefined {
  for (const path of walk(dir)) {
    if (name.test(path.slice(path.lastIndexOf("/") + 1))) return path;
  }
  return undefined;
}

/**
 * Fetches and unpacks {@linkcode ORT_GPU_PACKAGE} into `dir` unless it is already there.
 *
 * @param dir Target folder (created when missing).
 * @returns The paths of the CUDA build's libraries.
 * @throws {Error} Naming what is missing: `npm`, `tar`, or a library the package should hold.
 */
export async function setupGpu(dir: string): Promise<GpuRuntimePaths> {
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
  const library = find(unpacked, /^libonnxruntime\.so(\.\d+)*$/);
  const cudaProvider = find(unpacked, /^libonnxruntime_providers_cuda\.so$/);
  if (library === undefined || cudaProvider === undefined) {
    throw new Error(
      `${ORT_GPU_PACKAGE} in ${unpacked} lacks ${
        library === undefined ? "libonnxruntime.so" : "libonnxruntime_providers_cuda.so"
      }`,
    );
  }
  return { dir: unpacked, library, cudaProvider };
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { dir: { type: "string" } } });
  const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
  const paths = await setupGpu(values.dir ?? `${root}/.cache/onnxruntime-gpu`);
  console.log(`ONNX Runtime (CUDA build): ${paths.library}`);
  console.log(`CUDA execution provider:   ${paths.cudaProvider}`);
  console.log("Build the shim against it:");
  console.log(`  SPECDEC_ORT_LIBRARY=${paths.library} deno task build:native --force`);
}
