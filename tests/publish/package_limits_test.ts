import assert from "node:assert/strict";
import { nativeManifest, publishedManifest } from "../../lib/runtime/native_build.ts";
import { publishedFiles, ROOT } from "./_published_files.ts";

/** JSR's limits: no file over 20 MB, at most 20 MB in all. */
const JSR_MAX_BYTES = 20 * 1024 * 1024;

Deno.test("deno publish --dry-run lists the library, CLI, native sources and docs within JSR's limits", async () => {
  const files = await publishedFiles();
  const paths = new Set(files.map((f) => f.path));
  for (const f of files) {
    assert.ok(f.size <= JSR_MAX_BYTES, `${f.path} is ${f.size} bytes, over JSR's 20 MB`);
  }
  const total = files.reduce((sum, f) => sum + f.size, 0);
  assert.ok(total <= JSR_MAX_BYTES, `the package is ${total} bytes, over JSR's 20 MB`);
  for (
    const dir of ["models/", "tests/", "results/", "scripts/", "bench/", "build/", "node_modules/"]
  ) {
    const found = [...paths].filter((p) => p.startsWith(dir));
    assert.deepEqual(found, [], `${dir} must not be published`);
  }
  assert.deepEqual([...paths].filter((p) => p.startsWith("native/tests/")), []);
  assert.deepEqual([...paths].filter((p) => p.endsWith("_test.ts")), []);
  for (const p of ["mod.ts", "cli.ts", "deno.json", "README.md", "LICENSE", "native/files.json"]) {
    assert.ok(paths.has(p), `${p} must be published`);
  }
  // Every source a cached build downloads is published.
  for (const p of Object.keys(publishedManifest())) {
    assert.ok(paths.has(`native/${p}`), `native/${p} (in native/files.json) must be published`);
  }
  // Every library module is published.
  const lib: string[] = [];
  const walk = (dir: string): void => {
    for (const e of Deno.readDirSync(`${ROOT}/${dir}`)) {
      if (e.isDirectory) walk(`${dir}/${e.name}`);
      else if (e.name.endsWith(".ts") || e.name.endsWith(".json")) lib.push(`${dir}/${e.name}`);
    }
  };
  walk("lib");
  assert.deepEqual(lib.filter((p) => !paths.has(p)), [], "unpublished lib/ modules");
});

Deno.test("native/files.json lists every native source with its SHA-256", () => {
  assert.deepEqual(
    publishedManifest(),
    nativeManifest(`${ROOT}/native`),
    "native/files.json is stale: run `deno task build:native --manifest`",
  );
});
