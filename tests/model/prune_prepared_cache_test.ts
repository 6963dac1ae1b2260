import assert from "node:assert/strict";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { cacheMaxBytes, prunePreparedCache } from "../../lib/model/prune_prepared_cache.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TINY = `${ROOT}models/tiny-target`;

async function copyTiny(): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const f of ["config.json", "model.safetensors"]) {
    await Deno.copyFile(`${TINY}/${f}`, `${dir}/${f}`);
  }
  return dir;
}

async function load(dir: string, root: string, maxLength = 16): Promise<string> {
  using lm = await CausalLM.load(dir, { maxLength, threads: 1, cache: root });
  return lm.cache;
}

async function entries(root: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${root}/prepared`)) out.push(e.name);
  return out.sort();
}

Deno.test("prepared-model cache: entries of deleted or changed checkpoints are pruned by the next build", async () => {
  const root = await Deno.makeTempDir();
  const gone = await copyTiny();
  const changed = await copyTiny();
  try {
    assert.equal(await load(gone, root), "built");
    assert.equal(await load(changed, root), "built");
    assert.equal((await entries(root)).length, 2);
    await Deno.remove(gone, { recursive: true });
    const st = await Deno.readFile(`${changed}/model.safetensors`);
    st[st.length - 1] = (st[st.length - 1]! + 1) & 0xff;
    await Deno.writeFile(`${changed}/model.safetensors`, st);
    // The changed checkpoint builds a new entry; that build prunes both unreachable ones.
    assert.equal(await load(changed, root), "built");
    assert.equal((await entries(root)).length, 1);
    assert.equal(await load(changed, root), "hit");
    // The shipped checkpoint is untouched by pruning: its entry stays and hits.
    assert.equal(await load(TINY, root), "built");
    assert.equal(await load(TINY, root), "hit");
    assert.equal((await entries(root)).length, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(changed, { recursive: true });
  }
});

Deno.test("prepared-model cache: past the budget the least recently used entries go first", async () => {
  const root = await Deno.makeTempDir();
  const dirs = [await copyTiny(), await copyTiny(), await copyTiny()];
  try {
    for (const d of dirs) assert.equal(await load(d, root), "built");
    const names = await entries(root);
    assert.equal(names.length, 3);
    // Last use in build order, a minute apart, an hour ago (no reliance on the clock's grain).
    const real = await Promise.all(dirs.map((d) => Deno.realPath(d)));
    for (const n of names) {
      const entry = `${root}/prepared/${n}`;
      const { sourcePath } = JSON.parse(await Deno.readTextFile(`${entry}/weights.json`));
      const t = new Date(Date.now() - 3600_000 + real.indexOf(sourcePath) * 60_000);
      await Deno.utime(entry, t, t);
      await Deno.utime(`${entry}/weights.json`, t, t);
    }
    // Use the first checkpoint again: now the second is the least recently used.
    assert.equal(await load(dirs[0]!, root), "hit");
    const sizes = await Promise.all(names.map(async (n) => {
      let b = 0;
      for await (const f of Deno.readDir(`${root}/prepared/${n}`)) {
        b += (await Deno.stat(`${root}/prepared/${n}/${f.name}`)).size;
      }
      return b;
    }));
    const one = Math.max(...sizes);
    const report = await prunePreparedCache(root, { maxBytes: 2 * one });
    assert.equal(report.removed.length, 1);
    assert.equal(report.removed[0]!.reason, "budget");
    assert.ok(report.keptBytes <= 2 * one);
    assert.equal(await load(dirs[0]!, root), "hit");
    assert.equal(await load(dirs[2]!, root), "hit");
    assert.equal(await load(dirs[1]!, root), "built"); // the pruned one is made again
    // A budget below one entry keeps the entry named by `keep` and nothing else.
    const keep = `${root}/prepared/${(await entries(root))[0]}`;
    const all = await prunePreparedCache(root, { maxBytes: 1, keep });
    assert.equal(all.removed.length, 2);
    assert.deepEqual((await entries(root)).map((n) => `${root}/prepared/${n}`), [keep]);
  } finally {
    await Deno.remove(root, { recursive: true });
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("prepared-model cache: orphaned build folders older than an hour are removed", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/prepared/.tmp-old`, { recursive: true });
    await Deno.writeFile(`${root}/prepared/.tmp-old/weights.bin`, new Uint8Array(100));
    await Deno.mkdir(`${root}/prepared/.tmp-new`);
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    await Deno.utime(`${root}/prepared/.tmp-old`, hourAgo, hourAgo);
    await Deno.utime(`${root}/prepared/.tmp-old/weights.bin`, hourAgo, hourAgo);
    const report = await prunePreparedCache(root, { maxBytes: 2 ** 30 });
    assert.deepEqual(report.removed.map((r) => r.reason), ["orphan"]);
    assert.deepEqual(await entries(root), [".tmp-new"]); // a build may still be writing it
    // A missing cache folder is nothing to prune.
    const none = await prunePreparedCache(`${root}/absent`, { maxBytes: 1 });
    assert.deepEqual(none.removed, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("SPECDEC_CACHE_MAX_GB: a bad value is an error naming the variable", async () => {
  const before = Deno.env.get("SPECDEC_CACHE_MAX_GB");
  const root = await Deno.makeTempDir();
  try {
    for (const bad of ["0", "-1", "lots"]) {
      Deno.env.set("SPECDEC_CACHE_MAX_GB", bad);
      assert.throws(
        () => cacheMaxBytes(),
        (e) => e instanceof SpecDecError && /SPECDEC_CACHE_MAX_GB/.test(e.message),
      );
      await assert.rejects(load(TINY, root), /SPECDEC_CACHE_MAX_GB must be a positive number/);
    }
    Deno.env.set("SPECDEC_CACHE_MAX_GB", "0.5");
    assert.equal(cacheMaxBytes(), 2 ** 29);
  } finally {
    if (before === undefined) Deno.env.delete("SPECDEC_CACHE_MAX_GB");
    else Deno.env.set("SPECDEC_CACHE_MAX_GB", before);
    await Deno.remove(root, { recursive: true });
  }
});
