import { assertEquals, assertRejects, maxAbsDiff } from "./_assert.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import {
  argmaxRow,
  committedReferences,
  RANDOM_MODELS,
  randomReference,
  type Reference,
} from "./_reference.ts";

async function checkReference(ref: Reference, maxCases: number): Promise<void> {
  const maxLen = Math.max(...ref.cases.map((c) => c.promptIds.length + c.greedy.length)) + 1;
  using lm = await CausalLM.load(ref.dir, { maxLength: maxLen, threads: 1 });
  const V = lm.vocabSize;
  for (const c of ref.cases.slice(0, maxCases)) {
    const n = c.promptIds.length;
    const { logits } = await lm.prefill(c.promptIds);
    const last = logits.subarray((n - 1) * V, n * V); // [vocab] f32
    if (c.lastLogits) {
      const d = maxAbsDiff(last, c.lastLogits);
      if (!(d <= 1e-3)) throw new Error(`${ref.dir}: last logits differ by ${d}`);
    } else if (c.top20) {
      const ours = c.top20.ids.map((id) => last[id]!);
      const d = maxAbsDiff(ours, c.top20.values);
      if (!(d <= 1e-3)) throw new Error(`${ref.dir}: top-20 logits differ by ${d}`);
      assertEquals(argmaxRow(last, 0, V), c.top20.ids[0]);
    }
    const out: number[] = [];
    let next = argmaxRow(logits, n - 1, V);
    for (let i = 0; i < c.greedy.length; i++) {
      out.push(next);
      if (i + 1 === c.greedy.length) break;
      const r = await lm.forward([next], [lm.kvLength]);
      next = argmaxRow(r.logits, 0, V);
    }
    assertEquals(out, c.greedy, `${ref.dir}: greedy continuation`);
  }
}

for (const name of RANDOM_MODELS) {
  Deno.test(`CausalLM matches transformers on random ${name} (logits 1e-3, 64 greedy tokens)`, async () => {
    await checkReference(randomReference(name), 1);
  });
}

for (const ref of committedReferences()) {
  const name = ref.dir.split("/").filter(Boolean).pop();
  Deno.test(`CausalLM matches transformers on ${name} (logits 1e-3, greedy)`, async () => {
    await checkReference(ref, name?.startsWith("bench") ? 2 : 4);
  });
}

/** A tree over S = 6 nodes: two roots; parents before children. */
const TREE = { tokens: [5, 9, 11, 13, 21, 30], parents: [-1, 0, 0, 1, -1, 4] };

function treeMask(parents: number[]): { mask: Uint8Array; depth: number[] } {
  const S = parents.length;
  const mask = new Uint8Array(S * S); // [S, S] u8
  const depth: number[] = [];
  for (let i = 0; i < S; i++) {
    let j = i;
    let d = 0;
    while (j !== -1) {
      mask[i * S + j] = 1;
      j = parents[j]!;
      d++;
    }
    depth.push(d);
  }
  return { mask, depth };
}

for (const name of ["llama", "gpt2", "qwen2", "llama-hd8"]) {
  Deno.test(`CausalLM tree forward equals sequential forwards along each path (${name})`, async () => {
    const ref = randomReference(name);
    using lm = await CausalLM.load(ref.dir, { maxLength: 64, threads: 1 });
    const V = lm.vocabSize;
    const prompt = ref.cases[0]!.promptIds;
    const P = prompt.length;
    const { mask, depth } = treeMask(TREE.parents);
    await lm.prefill(prompt);
    const tree = await lm.forward(TREE.tokens, depth.map((d) => P + d - 1), {
      treeMask: mask,
      hidden: true,
    });
    assertEquals(lm.kvLength, P + TREE.tokens.length);
    assertEquals(tree.hidden?.length, TREE.tokens.length * lm.hiddenSize);
    const leaves = TREE.parents.map((_, i) => i).filter((i) => !TREE.parents.includes(i));
    for (const leaf of leaves) {
      const path: number[] = [];
      for (let j = leaf; j !== -1; j = TREE.parents[j]!) path.unshift(j);
      await lm.prefill(prompt);
      const seq = await lm.forward(path.map((j) => TREE.tokens[j]!), path.map((_, r) => P + r), {
        hidden: true,
      });
      path.forEach((j, r) => {
        const d = maxAbsDiff(
          seq.logits.subarray(r * V, (r + 1) * V),
          tree.logits.subarray(j * V, (j + 1) * V),
        );
        if (!(d <= 1e-4)) throw new Error(`node ${j} on path to ${leaf}: logits differ by ${d}`);
      });
    }
  });
}

Deno.test("CausalLM keep() then forward equals a fresh prefill of the kept sequence", async () => {
  for (const name of ["llama", "gpt2"]) {
    const ref = randomReference(name);
    using lm = await CausalLM.load(ref.dir, { maxLength: 64, threads: 1 });
    const V = lm.vocabSize;
    const prompt = ref.cases[0]!.promptIds;
    const P = prompt.length;
    const { mask, depth } = treeMask(TREE.parents);
    await lm.prefill(prompt);
    await lm.forward(TREE.tokens, depth.map((d) => P + d - 1), { treeMask: mask });
    // Accept the path 0 -> 1 -> 3, then feed one more token.
    lm.keep([P + 0, P + 1, P + 3]);
    assertEquals(lm.kvLength, P + 3);
    const after = await lm.forward([42], [P + 3]);
    const kept = [...prompt, TREE.tokens[0]!, TREE.tokens[1]!, TREE.tokens[3]!, 42];
    const fresh = await lm.prefill(kept);
    const d = maxAbsDiff(after.logits, fresh.logits.subarray((kept.length - 1) * V));
    if (!(d <= 1e-4)) throw new Error(`${name}: keep() then forward differs from prefill by ${d}`);
    // rewind() then forward equals the same prefill too.
    lm.rewind(P);
    const again = await lm.forward(kept.slice(P), [P, P + 1, P + 2, P + 3]);
    const d2 = maxAbsDiff(again.logits, fresh.logits.subarray(P * V));
    if (!(d2 <= 1e-4)) throw new Error(`${name}: rewind() then forward differs by ${d2}`);
  }
});

Deno.test("CausalLM rejects a sequence past maxLength, naming both numbers", async () => {
  using lm = await CausalLM.load(randomReference("llama").dir, { maxLength: 16, threads: 1 });
  await lm.prefill([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const err = await assertRejects(
    () => lm.forward([1, 2, 3, 4, 5, 6, 7], [10, 11, 12, 13, 14, 15, 16]),
    RangeError,
  );
  assertEquals(err.message.includes("17") && err.message.includes("16"), true);
  assertEquals(lm.kvLength, 10);
  await assertRejects(() => lm.prefill(new Array(17).fill(1)), RangeError, "maxLength 16");
});

Deno.test("CausalLM rejects bad arguments before any native work", async () => {
  using lm = await CausalLM.load(randomReference("gpt2").dir, { maxLength: 16, threads: 1 });
  await assertRejects(() => lm.prefill([]), RangeError, "ids must not be empty");
  await assertRejects(() => lm.prefill([1, 256]), RangeError, "ids[1] = 256");
  await assertRejects(() => lm.forward([1, 2], [0]), RangeError, "positions");
  await assertRejects(() => lm.forward([1], [99]), RangeError, "positions[0] = 99");
  await assertRejects(
    () => lm.forward([1, 2], [0, 1], { treeMask: new Uint8Array(3) }),
    RangeError,
    "treeMask",
  );
  await assertRejects(
    () => lm.forward([1, 2], [0, 1], { treeMask: new Uint8Array([1, 1, 0, 1]) }),
    RangeError,
    "parents before children",
  );
  assertEquals(lm.kvLength, 0);
  await lm.prefill([1, 2, 3]);
  let threw = false;
  try {
    lm.keep([1, 1]);
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assertEquals(threw, true);
  lm.close();
  lm.close();
  await assertRejects(() => lm.prefill([1]), Error, "closed");
});

Deno.test("CausalLM.load() rejects options out of range and GPT-2 maxLength past n_positions", async () => {
  await assertRejects(
    () => CausalLM.load(randomReference("llama").dir, { maxLength: 0 }),
    RangeError,
    "maxLength",
  );
  await assertRejects(
    () => CausalLM.load(randomReference("llama").dir, { threads: 0 }),
    RangeError,
    "threads",
  );
  await assertRejects(
    () => CausalLM.load(randomReference("gpt2").dir, { maxLength: 1000 }),
    RangeError,
    "256",
  );
});

Deno.test("CausalLM loads sharded safetensors (model.safetensors.index.json)", async () => {
  const { SafeTensors } = await import("../../lib/model/safetensors.ts");
  const src = randomReference("llama");
  const st = await SafeTensors.open(`${src.dir}/model.safetensors`);
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(`${src.dir}/config.json`, `${dir}/config.json`);
  const names = st.names;
  const map: Record<string, string> = {};
  for (const [k, part] of [names.slice(0, 7), names.slice(7)].entries()) {
    const file = `model-0000${k + 1}-of-00002.safetensors`;
    const header: Record<string, unknown> = {};
    const blobs: Float32Array[] = [];
    let at = 0;
    for (const n of part) {
      const data = st.float32(n);
      header[n] = {
        dtype: "F32",
        shape: st.info(n).shape,
        data_offsets: [at, at + data.byteLength],
      };
      at += data.byteLength;
      blobs.push(data);
      map[n] = file;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const bytes = new Uint8Array(8 + json.length + at);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    let o = 8 + json.length;
    for (const b of blobs) {
      bytes.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), o);
      o += b.byteLength;
    }
    await Deno.writeFile(`${dir}/${file}`, bytes);
  }
  await Deno.writeTextFile(
    `${dir}/model.safetensors.index.json`,
    JSON.stringify({ weight_map: map }),
  );
  using lm = await CausalLM.load(dir, { maxLength: 16, threads: 1 });
  const c = src.cases[0]!;
  const { logits } = await lm.prefill(c.promptIds);
  const d = maxAbsDiff(logits.subarray((c.promptIds.length - 1) * lm.vocabSize), c.lastLogits!);
  if (!(d <= 1e-3)) throw new Error(`sharded: logits differ by ${d}`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("CausalLM.load() takes a maxLength past a sliding window (attention is windowed)", async () => {
  const src = randomReference("mistral");
  const dir = await Deno.makeTempDir();
  const config = JSON.parse(await Deno.readTextFile(`${src.dir}/config.json`));
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...config, sliding_window: 32 }));
  await Deno.copyFile(`${src.dir}/model.safetensors`, `${dir}/model.safetensors`);
  using lm = await CausalLM.load(dir, { maxLength: 64, threads: 1 });
  assertEquals(lm.maxLength, 64);
  assertEquals(lm.config.slidingWindow, 32);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("CausalLM.load() with cudaDevice fails clearly where CUDA is unavailable", async () => {
  const { cudaAvailable } = await import("../../lib/runtime/library.ts");
  const { SpecDecError, StatusCode } = await import("../../lib/runtime/errors.ts");
  if (cudaAvailable()) {
    using lm = await CausalLM.load(randomReference("llama").dir, { maxLength: 32, cudaDevice: 0 });
    const ref = randomReference("llama").cases[0]!;
    const { logits } = await lm.prefill(ref.promptIds);
    const d = maxAbsDiff(
      logits.subarray((ref.promptIds.length - 1) * lm.vocabSize),
      ref.lastLogits!,
    );
    if (!(d <= 1e-3)) throw new Error(`CUDA logits differ by ${d}`);
    return;
  }
  const err = await assertRejects(
    () => CausalLM.load(randomReference("llama").dir, { maxLength: 32, cudaDevice: 0 }),
    SpecDecError,
  );
  assertEquals(err.code, StatusCode.UNAVAILABLE);
});

Deno.test("CausalLM: logits 'last' computes only the last row, equal to the full forward's", async () => {
  const dir = new URL("../../models/tiny-target", import.meta.url).pathname;
  const ids = [5, 17, 99, 3, 250, 41, 7];
  for (const weights of ["f32", "q4"] as const) {
    for (const attention of ["gqa", "tree"] as const) {
      using lm = await CausalLM.load(dir, { maxLength: 32, threads: 1, weights, attention });
      const V = lm.vocabSize;
      const all = await lm.prefill(ids, { hidden: true });
      const last = await lm.prefill(ids, { hidden: true, logits: "last" });
      assertEquals(all.logits.length, ids.length * V);
      assertEquals(last.logits.length, V);
      assertEquals(last.hidden, all.hidden); // every row's hidden state either way
      const want = all.logits.subarray((ids.length - 1) * V);
      // q4 runs two rows through the LM head (batch invariance): the same kernels, bit for bit.
      const d = maxAbsDiff(last.logits, want);
      if (weights === "q4") assertEquals(d, 0, `${weights} ${attention}`);
      else if (!(d < 1e-4)) throw new Error(`${weights} ${attention}: max |diff| ${d}`);
      // One token (padded to two rows at q4) and a forward after the prefill.
      const one = await lm.prefill([ids[0]!], { logits: "last" });
      assertEquals(one.logits.length, V);
      const step = await lm.forward([ids[1]!], [1], { logits: "last" });
      assertEquals(step.logits.length, V);
    }
  }
});
