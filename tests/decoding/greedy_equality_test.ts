import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import { DraftTargetDecoder } from "../../lib/decoding/draft_target.ts";
import { MedusaDecoder } from "../../lib/decoding/medusa.ts";
import { PromptLookupDecoder } from "../../lib/decoding/prompt_lookup.ts";
import { MEDUSA_TREE_SIZES } from "../../lib/tree/medusa_choices.ts";
import { SyntheticHeads, SyntheticLM, SyntheticTokenizer } from "./_synthetic_lm.ts";

const V = 16;
const NEW = 64;
const tokenizer = new SyntheticTokenizer(V);
const PROMPTS = [
  "abc",
  "hello",
  "a",
  "fedcba",
  "abababab",
  "pompom",
  "gigabigpigbag",
  "jellojellojello",
  "kplmno",
  "abcdefghijklmnop",
];

function target(): SyntheticLM {
  return new SyntheticLM({ vocabSize: V, tableSeed: 7, contextSeed: 1, contextWeight: 0.8 });
}
function draft(): SyntheticLM {
  return new SyntheticLM({ vocabSize: V, tableSeed: 7, contextSeed: 99, contextWeight: 0.4 });
}

async function reference(): Promise<number[][]> {
  const ar = new AutoregressiveDecoder({
    model: target(),
    tokenizer,
    config: { maxNewTokens: NEW },
  });
  const out: number[][] = [];
  for (const p of PROMPTS) {
    const r = await ar.generate(p);
    assert.equal(r.tokens.length, NEW);
    assert.equal(r.metrics.targetForwards, NEW); // prefill + NEW - 1 steps
    out.push(r.tokens);
  }
  return out;
}

Deno.test("greedy: every decoder emits the autoregressive tokens (synthetic LM, 10 prompts x 64)", async (t) => {
  const ref = await reference();

  for (let k = 1; k <= 8; k++) {
    await t.step(`DraftTargetDecoder K=${k}`, async () => {
      const dec = new DraftTargetDecoder({
        draftModel: draft(),
        targetModel: target(),
        tokenizer,
        config: { numSpeculativeTokens: k, maxNewTokens: NEW },
      });
      let accepted = 0;
      for (let i = 0; i < PROMPTS.length; i++) {
        const r = await dec.generate(PROMPTS[i]!);
        assert.deepEqual(r.tokens, ref[i], `prompt ${i}`);
        accepted += r.metrics.accepted;
        assert.ok(r.metrics.steps < NEW);
      }
      assert.ok(accepted > 0, "the draft should agree sometimes");
    });
  }

  for (const schedule of ["heuristic"] as const) {
    await t.step(`DraftTargetDecoder ${schedule} schedule + confidence stop`, async () => {
      for (const confidenceThreshold of [0, 0.5]) {
        const dec = new DraftTargetDecoder({
          draftModel: draft(),
          targetModel: target(),
          tokenizer,
          config: { numSpeculativeTokens: 3, schedule, confidenceThreshold, maxNewTokens: NEW },
        });
        for (let i = 0; i < PROMPTS.length; i++) {
          assert.deepEqual((await dec.generate(PROMPTS[i]!)).tokens, ref[i]);
        }
      }
    });
  }

  for (const size of MEDUSA_TREE_SIZES) {
    await t.step(`MedusaDecoder tree of ${size} nodes`, async () => {
      const base = target();
      const dec = new MedusaDecoder({
        baseModel: base,
        heads: new SyntheticHeads(base, 4),
        tokenizer,
        config: { treeWidth: size, maxNewTokens: NEW },
      });
      let accepted = 0;
      for (let i = 0; i < PROMPTS.length; i++) {
        const r = await dec.generate(PROMPTS[i]!);
        assert.deepEqual(r.tokens, ref[i], `prompt ${i}`);
        accepted += r.metrics.accepted;
      }
      assert.ok(accepted > 0);
    });
  }

  await t.step("PromptLookupDecoder (n up to 3, K = 1, 4, 10)", async () => {
    for (const k of [1, 4, 10]) {
      const dec = new PromptLookupDecoder({
        model: target(),
        tokenizer,
        config: { numSpeculativeTokens: k, maxNewTokens: NEW },
      });
      for (let i = 0; i < PROMPTS.length; i++) {
        assert.deepEqual((await dec.generate(PROMPTS[i]!)).tokens, ref[i], `K=${k} prompt ${i}`);
      }
    }
  });
});

Deno.test("greedy equality holds up to a full cache (finishReason context)", async () => {
  const small = () =>
    new SyntheticLM({ vocabSize: V, tableSeed: 7, contextSeed: 1, maxLength: 40 });
  const ar = await new AutoregressiveDecoder({ model: small(), tokenizer }).generate("abcde", {
    maxNewTokens: 100,
  });
  assert.equal(ar.finishReason, "context");
  assert.equal(ar.tokens.length, 36); // 35 cached + the last emitted token
  const dt = await new DraftTargetDecoder({
    draftModel: new SyntheticLM({ vocabSize: V, tableSeed: 7, contextSeed: 3, maxLength: 40 }),
    targetModel: small(),
    tokenizer,
    config: { numSpeculativeTokens: 6 },
  }).generate("abcde", { maxNewTokens: 100 });
  assert.deepEqual(dt.tokens, ar.tokens);
  const base = small();
  const md = await new MedusaDecoder({
    baseModel: base,
    heads: new SyntheticHeads(base),
    tokenizer,
    config: { treeWidth: 16 },
  }).generate("abcde", { maxNewTokens: 100 });
  assert.deepEqual(md.tokens, ar.tokens);
  const pl = await new PromptLookupDecoder({ model: small(), tokenizer }).generate("abcde", {
    maxNewTokens: 100,
  });
  assert.deepEqual(pl.tokens, ar.tokens);
});
