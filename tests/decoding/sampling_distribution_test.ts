import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import type { Decoder } from "../../lib/decoding/decoder.ts";
import { DraftTargetDecoder } from "../../lib/decoding/draft_target.ts";
import { MedusaDecoder } from "../../lib/decoding/medusa.ts";
import { PromptLookupDecoder } from "../../lib/decoding/prompt_lookup.ts";
import type { SamplingOptions } from "../../lib/sampling/logits_processor.ts";
import { exactFirstThree, firstThreeHistogram } from "./_first_three.ts";
import { chiSquareTest } from "../sampling/_chi_square.ts";
import { SyntheticHeads, SyntheticLM, SyntheticTokenizer } from "./_synthetic_lm.ts";

// End to end: the empirical distribution of the first three generated tokens
// under speculative sampling must match the target's exact distribution
// (chi-square at significance 0.001), computed here from the synthetic model.
const V = 5;
const DRAWS = 20_000;
const PROMPT = [0, 1, 2];
const tokenizer = new SyntheticTokenizer(V);

function target(): SyntheticLM {
  return new SyntheticLM({
    vocabSize: V,
    tableSeed: 3,
    contextSeed: 1,
    tableWeight: 1.5,
    contextWeight: 1,
  });
}
function draft(): SyntheticLM {
  return new SyntheticLM({
    vocabSize: V,
    tableSeed: 3,
    contextSeed: 5,
    tableWeight: 1.5,
    contextWeight: 0.5,
  });
}

const exact = (sampling: SamplingOptions): Float64Array =>
  exactFirstThree(target(), sampling, PROMPT);
const histogram = (dec: Decoder): Promise<number[]> => firstThreeHistogram(dec, PROMPT, V, DRAWS);

const SETTINGS: SamplingOptions[] = [{ temperature: 1 }, { temperature: 0.8, topK: 4, topP: 0.95 }];

for (const sampling of SETTINGS) {
  const label = JSON.stringify(sampling);
  Deno.test(`sampling ${label}: first three tokens follow the target (chi-square, ${DRAWS} runs)`, async (t) => {
    const probs = exact(sampling);
    const check = (counts: number[]): void => {
      const r = chiSquareTest(counts, probs);
      assert.ok(
        r.pValue > 0.001,
        `chi2 = ${r.statistic.toFixed(1)}, df ${r.degreesOfFreedom}, p = ${r.pValue}`,
      );
    };
    await t.step("AutoregressiveDecoder", async () => {
      check(
        await histogram(
          new AutoregressiveDecoder({ model: target(), tokenizer, config: sampling }),
        ),
      );
    });
    await t.step("DraftTargetDecoder K=3", async () => {
      const dec = new DraftTargetDecoder({
        draftModel: draft(),
        targetModel: target(),
        tokenizer,
        config: { ...sampling, numSpeculativeTokens: 3 },
      });
      check(await histogram(dec));
    });
    for (const treeCandidates of ["sampled", "top-k"] as const) {
      await t.step(
        `MedusaDecoder exact, 9-node tree of depth 3, ${treeCandidates} candidates`,
        async () => {
          const base = target();
          const dec = new MedusaDecoder({
            baseModel: base,
            heads: new SyntheticHeads(base, 4, 0.3),
            tokenizer,
            config: {
              ...sampling,
              medusaChoices: [[0], [1], [2], [0, 0], [0, 1], [1, 0], [0, 0, 0], [0, 0, 1]],
              acceptance: "exact",
              treeCandidates,
            },
          });
          check(await histogram(dec));
        },
      );
    }
    await t.step("PromptLookupDecoder", async () => {
      const dec = new PromptLookupDecoder({
        model: target(),
        tokenizer,
        config: { ...sampling, numSpeculativeTokens: 3, maxNgramSize: 2 },
      });
      check(await histogram(dec));
    });
  });
}

Deno.test("a wrong speculative rule (accept every draft) fails the same end-to-end test", async () => {
  // the draft alone, sampled autoregressively, stands for "accept every draft"
  const probs = exact({ temperature: 1 });
  const dec = new AutoregressiveDecoder({ model: draft(), tokenizer, config: { temperature: 1 } });
  const r = chiSquareTest(await histogram(dec), probs);
  assert.ok(r.pValue < 0.001, `p = ${r.pValue}`);
});

Deno.test("sampling is reproducible from the seed", async () => {
  const dec = new DraftTargetDecoder({
    draftModel: draft(),
    targetModel: target(),
    tokenizer,
    config: { temperature: 1, numSpeculativeTokens: 4 },
  });
  const a = await dec.generate(PROMPT, { seed: 42, maxNewTokens: 32 });
  const b = await dec.generate(PROMPT, { seed: 42, maxNewTokens: 32 });
  const c = await dec.generate(PROMPT, { seed: 43, maxNewTokens: 32 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
});
