import assert from "node:assert/strict";
import { CausalLM } from "../../lib/model/causal_lm.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TINY = `${ROOT}models/tiny-target`;
const IDS = [5, 17, 99, 3, 250, 41, 7];

async function logitsOf(
  dir: string,
  cache: string | false,
  weights: "f32" | "q4",
): Promise<{ status: string; logits: Float32Array }> {
  using lm = await CausalLM.load(dir, { maxLength: 16, threads: 1, cache, weights });
  return { status: lm.cache, logits: (await lm.prefill(IDS)).logits };
}

async function entryFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${root}/prepared`)) {
    if (e.isDirectory && !e.name.startsWith(".tmp")) {
      for await (const f of Deno.readDir(`${root}/prepared/${e.name}`)) {
        out.push(`${root}/prepared/${e.name}/${f.name}`);
      }
    } else out.push(e.name);
  }
  return out.sort();
}

Deno.test("prepared-model cache: a second load is a hit with identical logits (f32 and q4)", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const weights of ["f32", "q4"] as const) {
      const plain = await logitsOf(TINY, false, weights);
      assert.equal(plain.status, "off");
      const first = await logitsOf(TINY, root, weights);
      assert.equal(first.status, "built");
      const second = await logitsOf(TINY, root, weights);
      assert.equal(second.status, "hit");
      assert.deepEqual(first.logits, plain.logits);
      assert.deepEqual(second.logits, plain.logits);
    }
    // Another KV length reuses the weight file: one more graph, no second weights.bin.
    using lm = await CausalLM.load(TINY, { maxLength: 24, threads: 1, cache: root });
    assert.equal(lm.cache, "built");
    const files = await entryFiles(root);
    assert.equal(files.filter((f) => f.endsWith("weights.bin")).length, 2); // f32 and q4
    assert.equal(files.filter((f) => f.endsWith(".onnx")).length, 3);
    assert.equal(files.some((f) => f.includes(".tmp")), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("prepared-model cache: corrupt or truncated entries are detected and rebuilt", async () => {
  const root = await Deno.makeTempDir();
  try {
    const ref = await logitsOf(TINY, root, "q4");
    const files = await entryFiles(root);
    const bin = files.find((f) => f.endsWith("weights.bin"))!;
    const data = await Deno.readFile(bin);
    data[data.length >> 1]! ^= 0xff; // one flipped byte
    await Deno.writeFile(bin, data);
    const again = await logitsOf(TINY, root, "q4");
    assert.equal(again.status, "rebuilt");
    assert.deepEqual(again.logits, ref.logits);
    const onnx = (await entryFiles(root)).find((f) => f.endsWith(".onnx"))!;
    await Deno.truncate(onnx, 100);
    const third = await logitsOf(TINY, root, "q4");
    assert.notEqual(third.status, "hit");
    assert.deepEqual(third.logits, ref.logits);
    assert.equal((await logitsOf(TINY, root, "q4")).status, "hit");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("prepared-model cache: a changed checkpoint gets a new entry, never the stale one", async () => {
  const root = await Deno.makeTempDir();
  const dir = await Deno.makeTempDir();
  try {
    for (const f of ["config.json", "model.safetensors"]) {
      await Deno.copyFile(`${TINY}/${f}`, `${dir}/${f}`);
    }
    const before = await logitsOf(dir, root, "f32");
    assert.equal(before.status, "built");
    // Same size, same header: only weight bytes change (the last tensor's last bytes).
    const st = await Deno.readFile(`${dir}/model.safetensors`);
    for (let i = st.length - 64; i < st.length; i++) st[i] = (st[i]! + 1) & 0xff;
    await Deno.writeFile(`${dir}/model.safetensors`, st);
    const after = await logitsOf(dir, root, "f32");
    assert.equal(after.status, "built");
    const fresh = await logitsOf(dir, false, "f32");
    assert.deepEqual(after.logits, fresh.logits);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prepared-model cache: an unwritable folder costs one warning line, the load works", async () => {
  const tmp = await Deno.makeTempDir();
  const file = `${tmp}/not-a-folder`;
  await Deno.writeTextFile(file, "x");
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    const a = await logitsOf(TINY, `${file}/cache`, "f32");
    const b = await logitsOf(TINY, `${file}/cache`, "f32");
    assert.equal(a.status, "unavailable");
    assert.equal(b.status, "unavailable");
    assert.deepEqual(a.logits, (await logitsOf(TINY, false, "f32")).logits);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0]!, /cannot be written.*SPECDEC_CACHE/);
  } finally {
    console.warn = warn;
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("prepared-model cache: concurrent first loads both succeed and leave one whole entry", async () => {
  const root = await Deno.makeTempDir();
  try {
    const [a, b] = await Promise.all([logitsOf(TINY, root, "q4"), logitsOf(TINY, root, "q4")]);
    assert.deepEqual(a.logits, b.logits);
    assert.equal((await logitsOf(TINY, root, "q4")).status, "hit");
    const names: string[] = [];
    for await (const e of Deno.readDir(`${root}/prepared`)) names.push(e.name);
    assert.equal(names.length, 1, names.join(", "));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CausalLM.load() refuses a cache option that is neither a boolean nor a folder", async () => {
  // deno-lint-ignore no-explicit-any
  await assert.rejects(() => CausalLM.load(TINY, { cache: 3 as any }), /cache must be/);
  await assert.rejects(() => CausalLM.load(TINY, { cache: "" }), /cache must be/);
});
