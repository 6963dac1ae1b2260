import { assertEquals, assertRejects, maxAbsDiff } from "./_assert.ts";
import { MedusaHeads } from "../../lib/model/medusa_heads.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";
import { committedReferences, randomReference } from "./_reference.ts";

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
