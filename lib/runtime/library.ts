/**
 * Loads the native shim `libspecdec.so` once per process.
 *
 * Lookup order:
 * 1. `SPECDEC_LIB` (a path) when set, and nothing else;
 * 2. in a checkout of the repository: `build/native/libspecdec.so`, built (or rebuilt when
 *    `native/` changed) on first load;
 * 3. anywhere else (JSR, any URL, a copy of the published files): the per-version build in the
 *    user cache, `$SPECDEC_CACHE/native/<version>-<hash>/` (default `~/.cache/specdec`), built once
 *    with CMake from the package's `native/` sources;
 * 4. otherwise a {@linkcode SpecDecError} naming what is missing (CMake, a C compiler, network,
 *    a writable cache) and the `SPECDEC_LIB` alternative.
 *
 * Building lives in `native_build.ts`.
 *
 * @module
 */

import {
  discardCachedBuild,
  ensureCachedBuild,
  ensureNativeBuild,
  isCheckout,
} from "./native_build.ts";
import { type NativeLibrary, symbols } from "./symbols.ts";
import { SpecDecError, StatusCode } from "./errors.ts";

let loaded: NativeLibrary | undefined;
let loadedPath: string | undefined;

/** Versions reported by the loaded native library. */
export interface NativeVersions {
  /** The shim's version (`sd_version`). */
  specdec: string;
  /** ONNX Runtime's version (`sd_ort_version`). */
  onnxruntime: string;
  /** Path the shim was loaded from. */
  path: string;
}

/**
 * Opens the native library (building it first when needed) and returns it; later calls return
 * the same library.
 *
 * @returns The opened library with {@linkcode symbols}.
 * @throws {SpecDecError} Code `STATE`, listing every path tried, when no library can be loaded.
 */
export function loadLibrary(): NativeLibrary {
  if (loaded !== undefined) return loaded;
  const tried: string[] = [];
  const causes: unknown[] = [];
  const attempt = (path: string): NativeLibrary | undefined => {
    tried.push(path);
    try {
      return Deno.dlopen(path, symbols);
    } catch (err) {
      causes.push(err);
      return undefined;
    }
  };
  const override = Deno.env.get("SPECDEC_LIB");
  let lib: NativeLibrary | undefined;
  let path = "";
  if (override !== undefined && override !== "") {
    path = override;
    lib = attempt(path);
  } else {
    try {
      const checkout = isCheckout();
      path = checkout ? ensureNativeBuild() : ensureCachedBuild();
      lib = attempt(path);
      if (lib === undefined && !checkout) {
        // A damaged cached build (a truncated file, a deleted ONNX Runtime): build it again.
        discardCachedBuild(path);
        path = ensureCachedBuild();
        lib = attempt(path);
      }
    } catch (err) {
      causes.push(err);
    }
  }
  if (lib === undefined) {
    const reasons = causes.map((c) => c instanceof Error ? c.message : String(c)).join("\n");
    const where = tried.length > 0 ? `; tried:\n  ${tried.join("\n  ")}` : "";
    throw new SpecDecError(
      `Cannot load the specdec native library${where}\n${reasons}` +
        (reasons.includes("SPECDEC_LIB")
          ? ""
          : "\nSet SPECDEC_LIB to the path of a prebuilt libspecdec.so to override."),
      StatusCode.STATE,
      { cause: causes[causes.length - 1] },
    );
  }
  loaded = lib;
  loadedPath = path;
  return lib;
}

/**
 * Reads a NUL-terminated UTF-8 string owned by the native library.
 *
 * @param ptr A `const char *` from the library (may be null).
 * @returns The string, or `""` for a null pointer.
 */
export function readCString(ptr: Deno.PointerValue): string {
  return ptr === null ? "" : Deno.UnsafePointerView.getCString(ptr);
}

/**
 * The versions of the shim and of ONNX Runtime (loads the library).
 *
 * @returns Versions and the path of the loaded library.
 */
export function nativeVersions(): NativeVersions {
  const lib = loadLibrary();
  return {
    specdec: readCString(lib.symbols.sd_version()),
    onnxruntime: readCString(lib.symbols.sd_ort_version()),
    path: loadedPath ?? "",
  };
}

/**
 * Whether sessions can run on CUDA: a CUDA build of the shim, the CUDA execution provider and a
 * device are all present. Never throws for a missing GPU (only when the library cannot load).
 *
 * @returns `true` when `cudaDevice` session options can work.
 */
export function cudaAvailable(): boolean {
  return loadLibrary().symbols.sd_cuda_available() === 1;
}

/**
 * The CPU variant of specdec's PackedLinear kernels: 4 with AVX-512 (x86-64-v4), where they are
 * fast and models use them by default; 3 (AVX2) or 0 (portable), where they are correct but
 * slower than ONNX Runtime's own kernels, which models use instead. `SPECDEC_CPU_LEVEL` caps it.
 *
 * @example
 * ```ts
 * import { cpuKernelLevel } from "@specdec/specdec";
 * if (![0, 3, 4].includes(cpuKernelLevel())) throw new Error("unexpected");
 * ```
 *
 * @returns 4, 3 or 0.
 */
export function cpuKernelLevel(): number {
  return loadLibrary().symbols.sd_cpu_kernel_level();
}
