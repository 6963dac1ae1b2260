/**
 * Loads the native shim `libspecdec.so` once per process.
 *
 * Lookup: `SPECDEC_LIB` (a path) when set, and nothing else; otherwise the repository build
 * `build/native/libspecdec.so`, which is built (or rebuilt, when `native/` changed) with
 * `scripts/build.ts` on first load. A failure lists every path tried.
 *
 * @module
 */

import { ensureNativeBuild, nativePaths } from "../../scripts/build.ts";
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
    const local = new URL(import.meta.url).protocol === "file:";
    if (local) {
      try {
        path = ensureNativeBuild();
      } catch (err) {
        causes.push(err);
        path = nativePaths().library;
      }
      lib = attempt(path);
    }
  }
  if (lib === undefined) {
    const reasons = causes.map((c) => c instanceof Error ? c.message : String(c)).join("\n");
    throw new SpecDecError(
      `Cannot load the specdec native library; tried:\n  ${
        tried.length > 0 ? tried.join("\n  ") : "(no path: set SPECDEC_LIB)"
      }\nSet SPECDEC_LIB to the path of libspecdec.so to override.\n${reasons}`,
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
