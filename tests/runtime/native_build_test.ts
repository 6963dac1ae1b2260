import assert from "node:assert/strict";
import {
  cachedBuildKey,
  ensureCachedBuild,
  findProgram,
  nativeCacheDir,
  SPECDEC_VERSION,
} from "../../lib/runtime/native_build.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MODULE = new URL("../../lib/runtime/native_build.ts", import.meta.url).href;

function withEnv<T>(vars: Record<string, string | undefined>, work: () => T): T {
  const saved = Object.keys(vars).map((k) => [k, Deno.env.get(k)] as const);
  for (const [k, v] of Object.entries(vars)) {
    v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
  try {
    return work();
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
}

Deno.test("SPECDEC_VERSION matches deno.json's version", () => {
  const version = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).version;
  assert.equal(SPECDEC_VERSION, version);
});

Deno.test("nativeCacheDir() follows SPECDEC_CACHE, then XDG_CACHE_HOME, then HOME", () => {
  withEnv({ SPECDEC_CACHE: "/c/specdec", XDG_CACHE_HOME: "/x", HOME: "/h" }, () => {
    assert.equal(nativeCacheDir(), "/c/specdec/native");
  });
  withEnv({ SPECDEC_CACHE: undefined, XDG_CACHE_HOME: "/x", HOME: "/h" }, () => {
    assert.equal(nativeCacheDir(), "/x/specdec/native");
  });
  withEnv({ SPECDEC_CACHE: undefined, XDG_CACHE_HOME: undefined, HOME: "/h" }, () => {
    assert.equal(nativeCacheDir(), "/h/.cache/specdec/native");
  });
  assert.match(cachedBuildKey(), /^\d+\.\d+\.\d+-[0-9a-f]{16}$/);
});

Deno.test("ensureCachedBuild() without CMake names it and SPECDEC_LIB, and writes nothing", () => {
  const cache = Deno.makeTempDirSync();
  const emptyPath = Deno.makeTempDirSync();
  withEnv({ PATH: emptyPath, SPECDEC_CACHE: cache, CC: undefined }, () => {
    assert.throws(
      () => ensureCachedBuild(),
      (e: unknown) =>
        e instanceof SpecDecError &&
        /CMake \(`cmake` is not on PATH\) and a C compiler \(no cc, gcc or clang on PATH\) is missing/
          .test(e.message) &&
        e.message.includes("SPECDEC_LIB"),
    );
  });
  assert.deepEqual([...Deno.readDirSync(cache)], []);
});

Deno.test("ensureCachedBuild() with CMake but no C compiler names the compiler", () => {
  const cmake = findProgram("cmake");
  if (cmake === undefined) return; // nothing to hide on a machine without CMake
  const bin = Deno.makeTempDirSync();
  Deno.symlinkSync(cmake, `${bin}/cmake`);
  const cache = Deno.makeTempDirSync();
  withEnv({ PATH: bin, SPECDEC_CACHE: cache, CC: undefined }, () => {
    assert.throws(
      () => ensureCachedBuild(),
      (e: unknown) =>
        e instanceof SpecDecError && e.message.includes("a C compiler (no cc, gcc or clang") &&
        !e.message.includes("CMake (") && e.message.includes("SPECDEC_LIB"),
    );
  });
  withEnv({ PATH: bin, SPECDEC_CACHE: cache, CC: "/no/such/cc" }, () => {
    assert.throws(() => ensureCachedBuild(), /the C compiler CC=\/no\/such\/cc \(not found\)/);
  });
});

Deno.test("ensureCachedBuild() names an unwritable cache folder and SPECDEC_CACHE", () => {
  const file = Deno.makeTempFileSync();
  withEnv({ SPECDEC_CACHE: `${file}/specdec` }, () => {
    assert.throws(
      () => ensureCachedBuild(),
      (e: unknown) =>
        e instanceof SpecDecError &&
        e.message.startsWith(
          `Cannot write the specdec native build cache ${file}/specdec/native`,
        ) &&
        e.message.includes("SPECDEC_CACHE") && e.message.includes("SPECDEC_LIB"),
    );
  });
});

Deno.test({
  name:
    "ensureCachedBuild() from two processes at once builds one folder, which still loads after it moves",
  ignore: findProgram("cmake") === undefined,
  fn: async () => {
    const cache = await Deno.makeTempDir();
    const code = `import { ensureCachedBuild } from "${MODULE}";
console.log(ensureCachedBuild());`;
    const env = { SPECDEC_CACHE: cache, SPECDEC_CUDA: "0" };
    const run = (): Promise<Deno.CommandOutput> =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-check", code],
        cwd: ROOT,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outs = await Promise.all([run(), run()]);
    const paths = outs.map((o) => {
      assert.ok(o.success, new TextDecoder().decode(o.stderr));
      return new TextDecoder().decode(o.stdout).trim();
    });
    assert.equal(paths[0], paths[1]);
    const names = [...Deno.readDirSync(`${cache}/native`)].map((e) => e.name);
    assert.deepEqual(names, [paths[0]!.split("/").at(-2)]);
    // The folder stands alone: ONNX Runtime is inside it, reached through $ORIGIN/ort.
    const moved = `${cache}/moved`;
    await Deno.rename(`${cache}/native/${names[0]}`, moved);
    const check = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--no-check",
        `import { nativeVersions } from "${ROOT}mod.ts"; console.log(JSON.stringify(nativeVersions()));`,
      ],
      cwd: ROOT,
      env: { SPECDEC_LIB: `${moved}/libspecdec.so` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(check.success, new TextDecoder().decode(check.stderr));
    const versions = JSON.parse(new TextDecoder().decode(check.stdout));
    assert.equal(versions.path, `${moved}/libspecdec.so`);
    assert.match(versions.onnxruntime, /^1\.29\./);
    await Deno.remove(cache, { recursive: true });
  },
});
