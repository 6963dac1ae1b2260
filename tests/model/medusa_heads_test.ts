import { assertEquals, assertRejects, maxAbsDiff } from "./_assert.ts";
import { MedusaHeads } from "../../lib/model/medusa_heads.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";
import { committedReferences, randomReference } from "./_reference.ts";
import { SafeTensors } from "../../lib/model/safetensors.ts";
import { randomTensor, writeSafetensors } from "./_eagle_fixture.ts";
import { Prng } from "../../lib/sampling/prng.ts";

const LLAMA = randomReference("llama");

Deno.test("MedusaHeads match transformers on the base's own hidden state (random llama)", async () => {
  const ref = JSON.parse(await Deno.readTextFile(`${LLAMA.dir}/medusa/reference.json`));
  using base = await CausalLM.load(LLAMA.dir, { maxLength: 32, threads: 1 });
  using heads = await MedusaHeads.load(`${LLAMA.dir}/medusa`, { threads: 1 });
  assertEquals(heads.numHeads, 3);
  assertEquals(heads.vocabSize, base.vocabSize);
  const prompt = LLAMA.cases[0]!.promptIds;
  const { hidden } = await base.prefill(prompt, { hidden: true });
  const H = base.hiddenSize;
  const last = hidden!.subarray((prompt.length - 1) * H); // [H] f32
  const dh = maxAbsDiff(last, ref.hidden);
  if (!(dh <= 1e-4)) throw new Error(`hidden differs by ${dh}`);
  const logits = await heads.forward(last);
  const d = maxAbsDiff(logits, (ref.heads_logits as number[][]).flat());
  if (!(d <= 1e-3)) throw new Error(`head logits differ by ${d}`);
});

for (const r of committedReferences()) {
  const name = r.dir.split("/").filter(Boolean).pop()!;
  let fixture: {
    cases?: {
      prompt_ids: number[];
      medusa?: { hidden: number[]; heads_top20: { ids: number[]; values: number[] }[] };
    }[];
  } = {};
  try {
    fixture = JSON.parse(
      Deno.readTextFileSync(new URL(`../fixtures/reference/${name}.json`, import.meta.url)),
    );
  } catch { /* no fixture under that name */ }
  const cases = (fixture.cases ?? []).filter((c) => c.medusa);
  if (cases.length === 0) continue;
  Deno.test(`MedusaHeads match transformers on ${name}/medusa (top-20, 1e-3)`, async () => {
    using heads = await MedusaHeads.load(`${r.dir}/medusa`, { threads: 1 });
    for (const c of cases.slice(0, 3)) {
      const logits = await heads.forward(new Float32Array(c.medusa!.hidden));
      c.medusa!.heads_top20.forEach((t, k) => {
        const ours = t.ids.map((id) => logits[k * heads.vocabSize + id]!);
        const d = maxAbsDiff(ours, t.values);
        if (!(d <= 1e-3)) throw new Error(`head ${k}: top-20 logits differ by ${d}`);
      });
    }
  });
}

Deno.test("MedusaHeads reject bad input", async () => {
  using heads = await MedusaHeads.load(`${LLAMA.dir}/medusa`, { threads: 1 });
  await assertRejects(() => heads.forward(new Float32Array(3)), RangeError, "hiddenSize 64");
  await assertRejects(
    () => MedusaHeads.load("/nonexistent/medusa"),
    SpecDecError,
    "/nonexistent/medusa/config.json",
  );
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({
      medusa_num_heads: 2,
      hidden_size: 32,
      vocab_size: 256,
      base_model: LLAMA.dir,
    }),
  );
  const err = await assertRejects(() => MedusaHeads.load(dir), SpecDecError, "do not fit");
  assertEquals(err.message.includes("hidden 32") && err.message.includes("hidden 64"), true);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("MedusaHeads with two residual blocks per head match a direct computation", async () => {
  // The committed one-block heads, plus a random second block per head.
  const one = await SafeTensors.open(`${LLAMA.dir}/medusa/model.safetensors`);
  const base = await SafeTensors.open(`${LLAMA.dir}/model.safetensors`);
  const K = 3, H = 64, V = 256;
  const prng = new Prng(11);
  const tensors: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (let k = 0; k < K; k++) {
    for (const part of ["weight", "bias"]) {
      const name = `medusa_head.${k}.0.linear.${part}`;
      tensors[name] = { data: one.float32(name), shape: part === "weight" ? [H, H] : [H] };
    }
    tensors[`medusa_head.${k}.1.linear.weight`] = randomTensor(prng, [H, H], 0.2);
    tensors[`medusa_head.${k}.1.linear.bias`] = randomTensor(prng, [H], 0.2);
  }
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({
        medusa_num_heads: K,
        medusa_num_layers: 2,
        hidden_size: H,
        vocab_size: V,
        shares_base_lm_head: true,
        base_model: LLAMA.dir,
      }),
    );
    await writeSafetensors(`${dir}/model.safetensors`, tensors);
    using heads = await MedusaHeads.load(dir, { threads: 1 });
    const h = new Float32Array(H).map((_, i) => Math.sin(i)); // [H] f32
    const logits = await heads.forward(h);
    const lmHead = base.float32("model.embed_tokens.weight"); // [V, H] (tied)
    const block = (x: Float64Array, k: number, j: number): Float64Array => {
      const w = tensors[`medusa_head.${k}.${j}.linear.weight`]!.data;
      const b = tensors[`medusa_head.${k}.${j}.linear.bias`]!.data;
      return x.map((xi, o) => {
        let y = b[o]!;
        for (let i = 0; i < H; i++) y += w[o * H + i]! * x[i]!;
        return xi + y / (1 + Math.exp(-y));
      });
    };
    let worst = 0;
    for (let k = 0; k < K; k++) {
      const hk = block(block(Float64Array.from(h), k, 0), k, 1);
      for (let v = 0; v < V; v++) {
        let ref = 0;
        for (let i = 0; i < H; i++) ref += lmHead[v * H + i]! * hk[i]!;
        worst = Math.max(worst, Math.abs(ref - logits[k * V + v]!));
      }
    }
    if (!(worst <= 1e-3)) throw new Error(`two-block head logits differ by ${worst}`);
    // medusa_num_layers outside 1..8 is refused, naming the file.
    const bad = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ ...bad, medusa_num_layers: 0 }),
    );
    await assertRejects(() => MedusaHeads.load(dir), SpecDecError, "medusa_num_layers 0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("MedusaHeads with packed projections equal the Gemm / MatMulNBits heads (f32, q8, q4)", async () => {
  const dir = `${new URL("../../", import.meta.url).pathname}models/tiny-target/medusa`;
  const H = JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).hidden_size as number;
  const hidden = new Float32Array(H).map((_, i) => Math.sin(i) * 2); // [H] f32
  for (const weights of ["f32", "q8", "q4"] as const) {
    using gemm = await MedusaHeads.load(dir, { threads: 1, weights, linear: "gemm" });
    using packed = await MedusaHeads.load(dir, { threads: 1, weights, linear: "packed" });
    const d = maxAbsDiff(await gemm.forward(hidden), await packed.forward(hidden));
    if (!(d <= (weights === "f32" ? 1e-3 : 0.15))) throw new Error(`${weights}: differ by ${d}`);
  }
  await assertRejects(
    () => MedusaHeads.load(dir, { linear: "fast" as never }),
    TypeError,
    "linear",
  );
});

Deno.test("MedusaHeads with int8 activations stay near the f32-activation heads (q8, q4); f32 weights are refused", async () => {
  const dir = `${new URL("../../", import.meta.url).pathname}models/tiny-target/medusa`;
  const H = JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).hidden_size as number;
  const hidden = new Float32Array(H).map((_, i) => Math.sin(i) * 2); // [H] f32
  for (const weights of ["q8", "q4"] as const) {
    using plain = await MedusaHeads.load(dir, { threads: 1, weights, linear: "packed" });
    using int8 = await MedusaHeads.load(dir, { threads: 1, weights, activations: "int8" });
    const d = maxAbsDiff(await plain.forward(hidden), await int8.forward(hidden));
    if (!(d > 0 && d <= 0.15)) throw new Error(`${weights}: differ by ${d}`);
  }
  await assertRejects(
    () => MedusaHeads.load(dir, { activations: "int8" }),
    TypeError,
    'activations "int8" needs weights "q8" or "q4"',
  );
});
