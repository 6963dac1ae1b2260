/**
 * Finds or builds the native shim `libspecdec.so`, used by the loader (`library.ts`) and by
 * `scripts/build.ts`.
 *
 * Two builds, both with CMake from the package's own `native/` sources against ONNX Runtime from
 * the npm package `com.github.asus4.onnxruntime` (as Deno resolves it):
 *
 * - **In a checkout** of the repository (this module is a local file and `scripts/build.ts` sits
 *   beside `lib/`): `build/native/`, rebuilt when `native/` changes
 *   ({@linkcode ensureNativeBuild}); CTest runs there.
 * - **Anywhere else** (imported from JSR, any URL, or a copy of the published files): a per-version
 *   folder in the user cache, `$SPECDEC_CACHE/native/<version>-<source hash>/` (default cache:
 *   `$XDG_CACHE_HOME/specdec`, else `~/.cache/specdec`), built once
 *   ({@linkcode ensureCachedBuild}). Remote sources are listed, with their SHA-256, in
 *   `native/files.json` and checked after download; ONNX Runtime is copied into the folder, so
 *   the folder stands alone. A build runs in a temporary folder renamed into place, under a lock
 *   file: concurrent first loads build once and never see a half-built folder.
 *
 * Both libraries find `libonnxruntime.so.1` through the rpath `$ORIGIN/ort` (relative links), so
 * a build folder keeps working when it moves.
 *
 * Env: `SPECDEC_ORT_LIBRARY` builds against another `libonnxruntime.so` (headers stay the npm
 * package's); `SPECDEC_CUDA=0` skips `native/cuda/` in a checkout, `SPECDEC_CUDA=1` compiles it
 * into a cached build too (off there by default: the npm ONNX Runtime is CPU only).
 *
 * @module
 */

import { specdecCacheRoot } from "./cache_root.ts";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import manifest from "../../native/files.json" with { type: "json" };
import { SpecDecError, StatusCode } from "./errors.ts";
import { lockSync, processGone } from "./_file_lock.ts";

/** The package version (also `version` in deno.json and `sd_version()` of the shim). */
export const SPECDEC_VERSION = "0.1.0";

/** The npm package that ships ONNX Runtime (declared in deno.json). */
export const ORT_PACKAGE = "com.github.asus4.onnxruntime@0.4.9";

const ORT_NAME = "com.github.asus4.onnxruntime";
const ORT_HEADERS =
  "Plugins/iOS~/onnxruntime.xcframework/ios-arm64_x86_64-simulator/onnxruntime.framework/Headers";
const ORT_LINUX_X64 = "Plugins/Linux/x64";
const LOCK_STALE_MS = 15 * 60_000;

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

/** Options of {@linkcode ensureNativeBuild} and {@linkcode ensureCachedBuild}. */
export interface BuildOptions {
  /** Rebuild even when the content hash is unchanged (checkout builds only). */
  force?: boolean;
  /** Print CMake's output (default: only on failure). */
  verbose?: boolean;
}

/** ONNX Runtime's library and C headers. */
export interface OrtLocation {
  /** Path of `libonnxruntime.so`. */
  library: string;
  /** Folder holding `onnxruntime_c_api.h`. */
  includeDir: string;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function buildError(message: string, cause?: unknown): SpecDecError {
  return new SpecDecError(message, StatusCode.STATE, cause === undefined ? undefined : { cause });
}

const ALTERNATIVE = "or set SPECDEC_LIB to the path of a prebuilt libspecdec.so";

/**
 * The URL of the package's `native/` sources (a `file:` URL in a checkout or a local copy).
 *
 * @returns The folder URL, ending with `/`.
 */
export function nativeSourceUrl(): URL {
  return new URL("../../native/", import.meta.url);
}

/**
 * Paths of the checkout build, for the repository that holds this file.
 *
 * @returns The repository, source, build and library paths.
 * @throws {SpecDecError} When this module is not a local file.
 */
export function nativePaths(): NativePaths {
  const url = new URL("../../", import.meta.url);
  if (url.protocol !== "file:") {
    throw buildError(`No checkout: specdec was loaded from ${url.href}`);
  }
  const root = fileURLToPath(url).replace(/\/$/, "");
  const build = `${root}/build/native`;
  return { root, source: `${root}/native`, build, library: `${build}/libspecdec.so` };
}

/**
 * Whether this module runs from a checkout of the repository: a local file with
 * `scripts/build.ts` and `native/CMakeLists.txt` beside `lib/` (the published package has no
 * `scripts/`).
 *
 * @returns `true` in a checkout.
 */
export function isCheckout(): boolean {
  if (new URL(import.meta.url).protocol !== "file:") return false;
  const { root } = nativePaths();
  return exists(`${root}/scripts/build.ts`) && exists(`${root}/native/CMakeLists.txt`);
}

function ortPackageDirs(root: string): string[] {
  return [
    `${root}/node_modules/.deno/${ORT_PACKAGE}/node_modules/${ORT_NAME}`,
    `${root}/node_modules/${ORT_NAME}`,
  ];
}

/**
 * Finds ONNX Runtime under a checkout's `node_modules/`, running `deno install` once when it is
 * missing.
 *
 * @param root Repository root.
 * @param libraryOverride A `libonnxruntime.so` to use instead of the package's; `null` for the
 *   package's own. Default: `SPECDEC_ORT_LIBRARY` from the environment.
 * @returns The library and header locations.
 * @throws {SpecDecError} Listing every path tried when ONNX Runtime cannot be found.
 */
export function findOrt(
  root: string,
  libraryOverride: string | null = Deno.env.get("SPECDEC_ORT_LIBRARY") || null,
): OrtLocation {
  const tried: string[] = [];
  const look = (): OrtLocation | undefined => {
    for (const dir of ortPackageDirs(root)) {
      const includeDir = `${dir}/${ORT_HEADERS}`;
      const library = libraryOverride ?? `${dir}/${ORT_LINUX_X64}/libonnxruntime.so`;
      if (!tried.includes(includeDir)) tried.push(includeDir, library);
      if (exists(`${includeDir}/onnxruntime_c_api.h`) && exists(library)) {
        return { library, includeDir };
      }
    }
    return undefined;
  };
  let found = look();
  if (found === undefined) {
    // A fresh clone: let Deno fetch the npm packages pinned in deno.lock into node_modules/.
    const out = runSync(Deno.execPath(), ["install", "--frozen"], root);
    if (!out.success) {
      throw buildError(`ONNX Runtime not found and 'deno install' failed:\n${out.text}`);
    }
    found = look();
  }
  if (found === undefined) {
    throw buildError(
      `ONNX Runtime (npm:${ORT_PACKAGE}) not found; tried:\n  ${tried.join("\n  ")}`,
    );
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
 * Content hash of everything the checkout build depends on.
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

/**
 * The SHA-256 of every file a build needs under a `native/` folder (all but `tests/`, `build/`
 * and `files.json` itself), keyed by path relative to that folder: what `native/files.json`
 * records.
 *
 * @param dir A `native/` folder.
 * @returns Relative path → hex SHA-256, sorted by path.
 */
export function nativeManifest(dir: string): Record<string, string> {
  const files: string[] = [];
  listFiles(dir, files);
  const out: Record<string, string> = {};
  for (const file of files.map((f) => f.slice(dir.length + 1)).sort()) {
    if (file === "files.json" || file.startsWith("tests/") || file.startsWith("build/")) continue;
    out[file] = createHash("sha256").update(Deno.readFileSync(`${dir}/${file}`)).digest("hex");
  }
  return out;
}

/**
 * The source list the package was published with (`native/files.json`).
 *
 * @returns Relative path → hex SHA-256.
 */
export function publishedManifest(): Record<string, string> {
  return { ...manifest.files };
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
    throw buildError(`Cannot run ${cmd} (is it installed?): ${(cause as Error).message}`, cause);
  }
  if (!out.success) {
    const text = verbose
      ? ""
      : new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    throw buildError(`${cmd} ${args.join(" ")} failed (exit ${out.code})\n${text.slice(-4000)}`);
  }
}

function runSync(
  cmd: string,
  args: string[],
  cwd: string,
): { success: boolean; stdout: string; text: string } {
  const out = new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).outputSync();
  const stdout = new TextDecoder().decode(out.stdout);
  return { success: out.success, stdout, text: stdout + new TextDecoder().decode(out.stderr) };
}

/**
 * Finds a program on `PATH` (or checks a path that contains `/`).
 *
 * @param name Program name or path.
 * @returns Its path, or `undefined` when it is not there.
 */
export function findProgram(name: string): string | undefined {
  const isFile = (p: string): boolean => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  };
  if (name.includes("/")) return isFile(name) ? name : undefined;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir !== "" && isFile(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

/**
 * Checks that CMake and a C compiler are there before a build, naming what is missing.
 *
 * @param where The folder the build would go to (for the message).
 * @throws {SpecDecError} Code `STATE` naming the missing tool and the `SPECDEC_LIB` alternative.
 */
export function checkBuildTools(where: string): void {
  const missing: string[] = [];
  if (findProgram("cmake") === undefined) missing.push("CMake (`cmake` is not on PATH)");
  const cc = Deno.env.get("CC");
  const compilers = cc ? [cc.split(" ")[0]!] : ["cc", "gcc", "clang"];
  if (!compilers.some((c) => findProgram(c) !== undefined)) {
    missing.push(
      cc ? `the C compiler CC=${cc} (not found)` : "a C compiler (no cc, gcc or clang on PATH)",
    );
  }
  if (missing.length > 0) {
    throw buildError(
      `Cannot build the specdec native library into ${where}: ${missing.join(" and ")} ` +
        `is missing. Install them (e.g. \`apt-get install cmake gcc\`) and run again, ` +
        `${ALTERNATIVE}`,
    );
  }
}

function announce(message: string, verbose: boolean): void {
  if (verbose || Deno.stderr.isTerminal()) console.error(`specdec: ${message}`);
}

/**
 * Builds `build/native/libspecdec.so` in a checkout when it is missing or its sources changed.
 *
 * @param options Force a rebuild, print CMake output.
 * @returns The path of the shared library.
 * @throws {SpecDecError} When CMake or the compiler is missing or fails (with their output).
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
  checkBuildTools(paths.build);
  Deno.mkdirSync(`${paths.root}/build`, { recursive: true });
  const release = lockSync(`${paths.root}/build/native.lock`, LOCK_STALE_MS);
  try {
    hash = nativeSourceHash(paths, ort);
    if (!options.force && upToDate(hash)) return paths.library; // built by another process
    const verbose = options.verbose ?? false;
    announce(`building the native library into ${paths.build} (once per change)`, false);
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
    if (!exists(paths.library)) throw buildError(`The build did not produce ${paths.library}`);
    Deno.writeTextFileSync(hashFile, `${hash}\n`);
    return paths.library;
  } finally {
    release();
  }
}

/**
 * The user cache folder of native builds: `$SPECDEC_CACHE/native`, else
 * `$XDG_CACHE_HOME/specdec/native`, else `~/.cache/specdec/native`.
 *
 * @returns An absolute folder path (not created).
 * @throws {SpecDecError} When neither `SPECDEC_CACHE`, `XDG_CACHE_HOME` nor `HOME` is set.
 */
export function nativeCacheDir(): string {
  const base = specdecCacheRoot();
  if (base === undefined) {
    throw buildError(
      `No cache folder for the specdec native build: set SPECDEC_CACHE (or HOME), ${ALTERNATIVE}`,
    );
  }
  return `${base}/native`;
}

function cudaInCache(): boolean {
  return Deno.env.get("SPECDEC_CUDA") === "1";
}

/**
 * The folder name of this package's cached build: `<version>-<hash>`, the hash covering the
 * native sources, the ONNX Runtime package (or `SPECDEC_ORT_LIBRARY`), `SPECDEC_CUDA` and the
 * platform.
 *
 * @returns For example `0.1.0-3f2a...` (16 hex digits).
 */
export function cachedBuildKey(): string {
  const local = new URL(import.meta.url).protocol === "file:";
  const files = local ? nativeManifest(fileURLToPath(nativeSourceUrl())) : publishedManifest();
  const hash = createHash("sha256");
  hash.update(`${SPECDEC_VERSION}\n${ORT_PACKAGE}\n${Deno.build.os}-${Deno.build.arch}\n`);
  hash.update(`ort=${Deno.env.get("SPECDEC_ORT_LIBRARY") ?? ""}\ncuda=${cudaInCache()}\n`);
  for (const [path, sha] of Object.entries(files).sort(([a], [b]) => a < b ? -1 : 1)) {
    hash.update(`${path} ${sha}\n`);
  }
  return `${SPECDEC_VERSION}-${hash.digest("hex").slice(0, 16)}`;
}

/**
 * Copies the published `native/` sources into `dest`, fetching them (in a `deno` subprocess: the
 * loader is synchronous) when the package is remote, and checks each file's SHA-256 against
 * `native/files.json`.
 */
function stageSources(dest: string): void {
  const base = nativeSourceUrl();
  const files = publishedManifest();
  if (base.protocol === "file:") {
    const src = fileURLToPath(base).replace(/\/$/, "");
    for (const path of Object.keys(nativeManifest(src))) {
      Deno.mkdirSync(`${dest}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
      Deno.copyFileSync(`${src}/${path}`, `${dest}/${path}`);
    }
    return;
  }
  Deno.mkdirSync(dest, { recursive: true });
  const script = `const [base, dest, ...paths] = Deno.args;
for (const p of paths) {
  const url = new URL(p, base);
  let res;
  try { res = await fetch(url); } catch (e) { console.error(url.href + ": " + e.message); Deno.exit(3); }
  if (!res.ok) { console.error(url.href + ": HTTP " + res.status); Deno.exit(3); }
  const file = dest + "/" + p;
  await Deno.mkdir(file.replace(/\\/[^/]*$/, ""), { recursive: true });
  await Deno.writeFile(file, new Uint8Array(await res.arrayBuffer()));
}`;
  const out = runSync(
    Deno.execPath(),
    ["eval", "--no-config", script, base.href, dest, ...Object.keys(files)],
    dest,
  );
  if (!out.success) {
    throw buildError(
      `Cannot download the specdec native sources from ${base.href} (network needed once): ` +
        `${out.text.trim()}; ${ALTERNATIVE}`,
    );
  }
  for (const [path, sha] of Object.entries(files)) {
    const got = createHash("sha256").update(Deno.readFileSync(`${dest}/${path}`)).digest("hex");
    if (got !== sha) {
      throw buildError(
        `Downloaded native source ${new URL(path, base).href} has SHA-256 ${got}, ` +
          `native/files.json says ${sha}; the package is corrupt or stale`,
      );
    }
  }
}

/**
 * Finds ONNX Runtime from npm as Deno resolves it (`deno info` of `npm:${ORT_PACKAGE}`, which
 * fetches it into Deno's npm cache when missing).
 *
 * @returns The package's library and header locations.
 * @throws {SpecDecError} When Deno cannot resolve the package or the platform has no library.
 */
export function resolveNpmOrt(): OrtLocation {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw buildError(
      `npm:${ORT_PACKAGE} is used for Linux x86_64 only (this is ${Deno.build.os} ` +
        `${Deno.build.arch}): set SPECDEC_ORT_LIBRARY to a libonnxruntime 1.29, ${ALTERNATIVE}`,
    );
  }
  const spec = `npm:${ORT_PACKAGE}`;
  const out = runSync(Deno.execPath(), ["info", "--json", "--no-config", spec], Deno.cwd());
  let dir: string | undefined;
  try {
    const info = JSON.parse(out.stdout) as {
      npmPackages?: Record<string, { localPath?: string }>;
    };
    dir = info.npmPackages?.[ORT_PACKAGE]?.localPath;
  } catch { /* reported below */ }
  if (!out.success || dir === undefined) {
    throw buildError(
      `Cannot resolve ${spec} with 'deno info' (network needed once): ${out.text.trim()}`,
    );
  }
  const location = {
    library: `${dir}/${ORT_LINUX_X64}/libonnxruntime.so`,
    includeDir: `${dir}/${ORT_HEADERS}`,
  };
  for (const p of [location.library, `${location.includeDir}/onnxruntime_c_api.h`]) {
    if (!exists(p)) throw buildError(`${spec} resolved to ${dir}, which lacks ${p}`);
  }
  return location;
}

/**
 * Removes a cached build that cannot be loaded, so the next {@linkcode ensureCachedBuild} makes it
 * again. Only folders inside {@linkcode nativeCacheDir} are touched.
 *
 * @param library The `libspecdec.so` of a cached build.
 */
export function discardCachedBuild(library: string): void {
  const dir = library.replace(/\/libspecdec\.so$/, "");
  const cache = nativeCacheDir();
  if (!dir.startsWith(`${cache}/`) || dir === library) return;
  const aside = `${cache}/.discard-${Deno.pid}-${Date.now()}`;
  try {
    Deno.renameSync(dir, aside); // atomic: other processes see it whole or not at all
    Deno.removeSync(aside, { recursive: true });
  } catch { /* another process got there first */ }
}

/** Removes `.build-<pid>-*` folders whose process is gone (a build killed halfway). */
function removeAbandonedBuilds(cache: string): void {
  for (const entry of Deno.readDirSync(cache)) {
    const m = /^\.build-(\d+)-/.exec(entry.name);
    if (m !== null && entry.isDirectory && processGone(Number(m[1]))) {
      try {
        Deno.removeSync(`${cache}/${entry.name}`, { recursive: true });
      } catch { /* another process removed it */ }
    }
  }
}

const BUILD_LEFTOVERS = [
  "src",
  "CMakeFiles",
  "CMakeCache.txt",
  "Makefile",
  "cmake_install.cmake",
  "CTestTestfile.cmake",
  "cuda",
];

/**
 * Returns the cached `libspecdec.so` of this package version, building it once when missing
 * (see the module documentation for the folder, the lock and the atomic rename).
 *
 * @param options Print CMake output.
 * @returns The path of the shared library.
 * @throws {SpecDecError} Code `STATE` naming what is missing (CMake, a C compiler, network, a
 *   writable cache folder) and the `SPECDEC_LIB` alternative.
 */
export function ensureCachedBuild(options: BuildOptions = {}): string {
  const cache = nativeCacheDir();
  const final = `${cache}/${cachedBuildKey()}`;
  const library = `${final}/libspecdec.so`;
  if (exists(library)) return library;
  checkBuildTools(final);
  try {
    Deno.mkdirSync(cache, { recursive: true });
    Deno.openSync(`${cache}/.write-test-${Deno.pid}`, { write: true, create: true }).close();
    Deno.removeSync(`${cache}/.write-test-${Deno.pid}`);
  } catch (cause) {
    throw buildError(
      `Cannot write the specdec native build cache ${cache}: ${(cause as Error).message}; ` +
        `set SPECDEC_CACHE to a writable folder, ${ALTERNATIVE}`,
      cause,
    );
  }
  const release = lockSync(`${final}.lock`, LOCK_STALE_MS);
  let tmp: string | undefined;
  try {
    if (exists(library)) return library; // built by another process meanwhile
    const verbose = options.verbose ?? false;
    console.error(`specdec: building the native library into ${final} (once per version)`);
    removeAbandonedBuilds(cache);
    tmp = Deno.makeTempDirSync({ dir: cache, prefix: `.build-${Deno.pid}-` });
    Deno.chmodSync(tmp, 0o755);
    stageSources(`${tmp}/src`);
    const override = Deno.env.get("SPECDEC_ORT_LIBRARY") || undefined;
    const npmOrt = resolveNpmOrt();
    let ortLibrary = override ?? "";
    if (override === undefined) {
      // A copy, so the folder stands alone (no path into Deno's npm cache).
      Deno.mkdirSync(`${tmp}/onnxruntime`);
      const from = npmOrt.library.replace(/\/[^/]*$/, "");
      for (const entry of Deno.readDirSync(from)) {
        if (/^libonnxruntime.*\.so$/.test(entry.name)) {
          Deno.copyFileSync(`${from}/${entry.name}`, `${tmp}/onnxruntime/${entry.name}`);
        }
      }
      ortLibrary = `${tmp}/onnxruntime/libonnxruntime.so`;
    }
    run(
      "cmake",
      [
        "-S",
        `${tmp}/src`,
        "-B",
        tmp,
        `-DSPECDEC_ORT_INCLUDE_DIR=${npmOrt.includeDir}`,
        `-DSPECDEC_ORT_LIBRARY=${ortLibrary}`,
        `-DSPECDEC_CUDA=${cudaInCache() ? "ON" : "OFF"}`,
        "-DSPECDEC_TESTS=OFF",
        "-DCMAKE_BUILD_TYPE=Release",
      ],
      tmp,
      verbose,
    );
    run("cmake", ["--build", tmp, "-j", "2"], tmp, verbose);
    if (!exists(`${tmp}/libspecdec.so`)) {
      throw buildError(`The build did not produce libspecdec.so`);
    }
    for (const name of BUILD_LEFTOVERS) {
      try {
        Deno.removeSync(`${tmp}/${name}`, { recursive: true });
      } catch { /* not there */ }
    }
    Deno.writeTextFileSync(
      `${tmp}/build.json`,
      JSON.stringify(
        {
          version: SPECDEC_VERSION,
          sources: nativeSourceUrl().href,
          onnxruntime: override ?? `npm:${ORT_PACKAGE}`,
          cuda: cudaInCache(),
        },
        null,
        2,
      ) + "\n",
    );
    try {
      Deno.renameSync(tmp, final);
      tmp = undefined;
    } catch (err) {
      if (!exists(library)) throw err; // else another process won the race: use its build
    }
    return library;
  } catch (err) {
    if (err instanceof SpecDecError) throw err;
    throw buildError(
      `Cannot build the specdec native library into ${final}: ${(err as Error).message}; ` +
        ALTERNATIVE,
      err,
    );
  } finally {
    if (tmp !== undefined) {
      try {
        Deno.removeSync(tmp, { recursive: true });
      } catch { /* best effort */ }
    }
    release();
  }
}
