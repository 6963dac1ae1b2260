/**
 * Builds the native shim of this checkout into `build/native/` (a thin command over
 * `lib/runtime/native_build.ts`, which the loader also uses).
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run --allow-env scripts/build.ts [--force] [--test] [--manifest] [--cache]
 * ```
 *
 * `--force` rebuilds even when up to date; `--test` then runs the C unit tests with CTest (under
 * valgrind when it is installed); `--manifest` rewrites `native/files.json` (the published source
 * list with SHA-256s: run it after changing `native/`); `--cache` builds the per-version library in
 * the user cache instead, as a package user's first load does. Env: `SPECDEC_ORT_LIBRARY` builds
 * against another `libonnxruntime.so` (its headers are still the npm package's), `SPECDEC_CUDA=0`
 * skips CUDA.
 *
 * @module
 */

import {
  ensureCachedBuild,
  ensureNativeBuild,
  findOrt,
  nativeManifest,
  nativePaths,
  ORT_PACKAGE,
} from "../lib/runtime/native_build.ts";

export { ensureNativeBuild, findOrt, nativePaths, ORT_PACKAGE };

const FLAGS = ["--force", "--test", "--manifest", "--cache"];

/**
 * Writes `native/files.json` from the files under `native/`.
 *
 * @returns The path written.
 */
export function writeManifest(): string {
  const { source } = nativePaths();
  const path = `${source}/files.json`;
  const files = nativeManifest(source);
  Deno.writeTextFileSync(path, JSON.stringify({ files }, null, 2) + "\n");
  return path;
}

if (import.meta.main) {
  const args = new Set(Deno.args);
  const unknown = [...args].filter((a) => !FLAGS.includes(a));
  if (unknown.length > 0) {
    console.error(
      `Unknown argument(s): ${unknown.join(" ")}; usage: build.ts [${FLAGS.join("] [")}]`,
    );
    Deno.exit(2);
  }
  try {
    if (args.has("--manifest")) console.log(`wrote ${writeManifest()}`);
    if (args.has("--cache")) {
      console.log(`built ${ensureCachedBuild({ verbose: true })}`);
    } else {
      const library = ensureNativeBuild({ force: args.has("--force"), verbose: true });
      console.log(`built ${library}`);
      if (args.has("--test")) {
        const paths = nativePaths();
        const out = new Deno.Command("ctest", {
          args: ["--test-dir", paths.build, "--output-on-failure"],
          cwd: paths.root,
          stdout: "inherit",
          stderr: "inherit",
        }).outputSync();
        if (!out.success) throw new Error(`ctest failed (exit ${out.code})`);
      }
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    Deno.exit(1);
  }
}
