/**
 * Builds the native shim (`native/`) with CMake into the git-ignored `build/native/`, only when
 * its sources changed (a content hash of `native/**`, the ONNX Runtime library and the options).
 *
 * The runtime loader (`lib/runtime/library.ts`) calls {@linkcode ensureNativeBuild} on first
 * load. As a script:
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run --allow-env scripts/build.ts [--force] [--test]
 * ```
 *
 * `--force` rebuilds even when up to date; `--test` then runs the C unit tests with CTest (under
 * valgrind when it is installed). Env: `SPECDEC_ORT_LIBRARY` builds against another
 * `libonnxruntime.so` (its headers are still the npm package's), `SPECDEC_CUDA=0` skips CUDA.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The npm package that ships ONNX Runtime (declared in deno.json). */
export const ORT_PACKAGE = "com.github.asus4.onnxruntime@0.4.9";

const ORT_NAME = "com.github.asus4.onnxruntime";

/** Where the repository, its native sources and its build output are. */
export interface NativePaths {
  /** Repository root. */
  root: string;
  /** `native/` sources. */
  source: string;
  /** CMake build folder `build/native/`. */
  build: string;
  /** The shared library the build produces. */
  library: string;
}

/** Options of {@linkcode ensureNativeBuild}. */
export interface BuildOptions {
  /** Rebuild even when the content hash is unchanged. */
  force?: boolean;
  /** Print CMake's output (default: only on failure). */
  verbose?: boolean;
}

/**
 * Paths of the native build for the repository that holds this file.
 *
 * @returns The repository, source, build and library paths.
 */
export function nativePaths(): NativePaths {
  const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
  const build = `${root}/build/native`;
  return { root, source: `${root}/native`, build, library: `${build}/libspecdec.so` };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** ONNX Runtime's library and C headers, as installed by Deno from npm. */
export interface OrtLocation {
  /** Path of `libonnxruntime.so`. */
  library: string;
  /** Folder holding `onnxruntime_c_api.h`. */
  includeDir: string;
}

function ortPackageDirs(root: string): string[] {
  return [
    `${root}/node_modules/.deno/${ORT_PACKAGE}/node_modules/${ORT_NAME}`,
    `${root}/node_modules/${ORT_NAME}`,
  ];
}

/**
 * Finds ONNX Runtime under `node_modules/`, running `deno install` once when it is missing.
 *
 * @param root Repository root.
 * @param libraryOverride A `libonnxruntime.so` to use instead of the package's; `null` for the
 *   package's own. Default: `SPECDEC_ORT_LIBRARY` from the environment.
 * @returns The library and header locations.
 * @throws {Error} Listing every path tried when ONNX Runtime cannot be found.
 */
export function findOrt(
  root: string,
  libraryOverride: string | null = Deno.env.get("SPECDEC_ORT_LIBRARY") ?? null,
): OrtLocation {
  const headerSub =
    "Plugins/iOS~/onnxruntime.xcframework/ios-arm64_x86_64-simulator/onnxruntime.framework/Headers";
  const tried: string[] = [];
  const look = (): OrtLocation | undefined => {
    for (const dir of ortPackageDirs(root)) {
      const includeDir = `${dir}/${headerSub}`;
      const library = libraryOverride ?? `${dir}/Plugins/Linux/x64/libonnxruntime.so`;
      tried.push(includeDir, library);
      if (exists(`${includeDir}/onnxruntime_c_api.h`) && exists(library)) {
        return { library, includeDir };
      }
    }
    return undefined;
  };
  let found = look();
  if (found === undefined) {
    // A fresh clone: let Deno fetch the npm packages pinned in deno.lock into node_modules/.
    const out = new Deno.Command(Deno.execPath(), {
      args: ["install", "--frozen"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (!out.success) {
      throw new Error(
        `ONNX Runtime not found and 'deno install' failed:\n${
          new TextDecoder().decode(out.stderr)
        }`,
      );
    }
    found = look();
  }
  if (found === undefined) {
    throw new Error(`ONNX Runtime (npm:${ORT_PACKAGE}) not found; tried:\n  ${tried.join("\n  ")}`);
  }
  return found;
}

function listFiles(dir: string, out: string[]): void {
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) listFiles(path, out);
    else if (entry.isFile) out.push(path);
  }
}

/**
 * Content hash of everything the native build depends on.
 *
 * @param paths Native build paths.
 * @param ort ONNX Runtime location.
 * @returns A hex SHA-256 digest.
 */
export function nativeSourceHash(paths: NativePaths, ort: OrtLocation): string {
  const files: string[] = [];
  listFiles(paths.source, files);
  files.sort();
  const hash = createHash("sha256");
  hash.update(`ort=${ort.library}\ninclude=${ort.includeDir}\n`);
  hash.update(`cuda=${Deno.env.get("SPECDEC_CUDA") ?? ""}\n`);
  for (const file of files) {
    hash.update(`${file.slice(paths.source.length)}\n`);
    hash.update(Deno.readFileSync(file));
  }
  return hash.digest("hex");
}

function run(cmd: string, args: string[], cwd: string, verbose: boolean): void {
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command(cmd, {
      args,
      cwd,
      stdout: verbose ? "inherit" : "piped",
      stderr: verbose ? "inherit" : "piped",
    }).outputSync();
  } catch (cause) {
    throw new Error(`Cannot run ${cmd} (is it installed?)`, { cause });
  }
  if (!out.success) {
    const text = verbose ? "" : new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code})\n${text}`);
  }
}

/** Takes `build/native.lock`, waiting while another process builds; returns the release. */
function lock(paths: NativePaths): () => void {
  const lockPath = `${paths.root}/build/native.lock`;
  Deno.mkdirSync(`${paths.root}/build`, { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      Deno.openSync(lockPath, { write: true, createNew: true }).close();
      return () => {
        try {
          Deno.removeSync(lockPath);
        } catch { /* already gone */ }
      };
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      let stale = false;
      try {
        const age = Date.now() - (Deno.statSync(lockPath).mtime?.getTime() ?? 0);
        stale = age > 10 * 60_000;
      } catch { /* removed meanwhile */ }
      if (stale || Date.now() > deadline) {
        try {
          Deno.removeSync(lockPath);
        } catch { /* raced */ }
        continue;
      }
      // Synchronous wait: the loader is synchronous.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

/**
 * Builds `build/native/libspecdec.so` when it is missing or its sources changed.
 *
 * @param options Force a rebuild, print CMake output.
 * @returns The path of the shared library.
 * @throws {Error} When CMake or the compiler fails (with their output).
 */
export function ensureNativeBuild(options: BuildOptions = {}): string {
  const paths = nativePaths();
  const ort = findOrt(paths.root);
  const hashFile = `${paths.build}/.specdec-hash`;
  const upToDate = (hash: string): boolean => {
    try {
      return exists(paths.library) && Deno.readTextFileSync(hashFile).trim() === hash;
    } catch {
      return false;
    }
  };
  let hash = nativeSourceHash(paths, ort);
  if (!options.force && upToDate(hash)) return paths.library;
  const release = lock(paths);
  try {
    hash = nativeSourceHash(paths, ort);
    if (!options.force && upToDate(hash)) return paths.library; // built by another process
    const verbose = options.verbose ?? false;
    if (!verbose && Deno.stderr.isTerminal()) {
      console.error(`specdec: building the native library into ${paths.build} (once per change)`);
    }
    const cuda = Deno.env.get("SPECDEC_CUDA") === "0" ? "OFF" : "ON";
    run(
      "cmake",
      [
        "-S",
        paths.source,
        "-B",
        paths.build,
        `-DSPECDEC_ORT_INCLUDE_DIR=${ort.includeDir}`,
        `-DSPECDEC_ORT_LIBRARY=${ort.library}`,
        `-DSPECDEC_CUDA=${cuda}`,
        "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
      ],
      paths.root,
      verbose,
    );
    run("cmake", ["--build", paths.build, "-j", "2"], paths.root, verbose);
    if (!exists(paths.library)) throw new Error(`The build did not produce ${paths.library}`);
    Deno.writeTextFileSync(hashFile, `${hash}\n`);
    return paths.library;
  } finally {
    release();
  }
}

if (import.meta.main) {
  const args = new Set(Deno.args);
  const unknown = [...args].filter((a) => a !== "--force" && a !== "--test");
  if (unknown.length > 0) {
    console.error(`Unknown argument(s): ${unknown.join(" ")}; usage: build.ts [--force] [--test]`);
    Deno.exit(2);
  }
  try {
    const library = ensureNativeBuild({ force: args.has("--force"), verbose: true });
    console.log(`built ${library}`);
    if (args.has("--test")) {
      const paths = nativePaths();
      run("ctest", ["--test-dir", paths.build, "--output-on-failure"], paths.root, true);
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    Deno.exit(1);
  }
}
