import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import type { Decoder } from "../../lib/decoding/decoder.ts";
import { DraftTargetDecoder } from "../../lib/decoding/draft_target.ts";
import { EagleDecoder } from "../../lib/decoding/eagle.ts";
import { MedusaDecoder } from "../../lib/decoding/medusa.ts";
import type { LookupBranchConfig } from "../../lib/decoding/lookup_branch.ts";
import type { SamplingOptions } from "../../lib/sampling/logits_processor.ts";
import { exactFirstThree, firstThreeHistogram } from "./_first_three.ts";
import { chiSquareTest } from "../sampling/_chi_square.ts";
import { SyntheticHeads, SyntheticLM, SyntheticTokenizer } from "./_synthetic_lm.ts";
import { SyntheticEagleHead } from "./_synthetic_eagle.ts";

// The prompt-lookup branch of the draft-target, Medusa and EAGLE decoders: greedy output
// identical to autoregressive (also up to a full cache), the branch really accepted (steps that
// accept more tokens than the drafter offered), sampling exact (chi-square on the first three
// tokens, with 1-gram matches so the branch fires in most steps), bad settings rejected by name.

/** The draft of the greedy tests: the target's table, another context mix. */
function draftOf(lm: SyntheticLM): SyntheticLM {
  return new SyntheticLM({
    vocabSize: lm.vocabSize,
    tableSeed: 7,
    contextSeed: 99,
    contextWeight: 0.4,
    maxLength: lm.maxLength,
  });
}

type Make = (
  lm: SyntheticLM,
  config: LookupBranchConfig & SamplingOptions & { maxNewTokens?: number },
) => Decoder;

const DECODERS: Array<[string, number, Make]> = [
  ["DraftTargetDecoder K=2", 2, (lm, c) =>
    new DraftTargetDecoder({
      draftModel: draftOf(lm),
      targetModel: lm,
      tokenizer: new SyntheticTokenizer(lm.vocabSize),
      config: { ...c, numSpeculativeTokens: 2 },
    })],
  ["DraftTargetDecoder K=1, heuristic schedule", 3, (lm, c) =>
    new DraftTargetDecoder({
      draftModel: draftOf(lm),
      targetModel: lm,
      tokenizer: new SyntheticTokenizer(lm.vocabSize),
      config: { ...c, numSpeculativeTokens: 1, schedule: "heuristic", maxSpeculativeTokens: 3 },
    })],
  ["MedusaDecoder 4-node tree", 4, (lm, c) =>
    new MedusaDecoder({
      baseModel: lm,
      heads: new SyntheticHeads(lm, 4, 0.3),
      tokenizer: new SyntheticTokenizer(lm.vocabSize),
      config: { ...c, treeWidth: 4, acceptance: "exact" },
    })],
  ["EagleDecoder chain K=2", 2, (lm, c) =>
    new EagleDecoder({
      targetModel: lm,
      head: new SyntheticEagleHead(lm, 0.6),
      tokenizer: new SyntheticTokenizer(lm.vocabSize),
      config: { ...c, treeNodes: 0, numSpeculativeTokens: 2 },
    })],
  ["EagleDecoder 6-node tree", 2, (lm, c) =>
    new EagleDecoder({
      targetModel: lm,
      head: new SyntheticEagleHead(lm, 0.6),
      tokenizer: new SyntheticTokenizer(lm.vocabSize),
      config: { ...c, treeNodes: 6, branching: 3, numSpeculativeTokens: 2 },
    })],
];

const V = 16;
const NEW = 64;
const PROMPTS = ["abcabcabc", "hellohello", "jellojellojello", "abcdefabcdef", "kplmno", "a"];

function target(maxLength?: number): SyntheticLM {
  return new SyntheticLM({
    vocabSize: V,
    tableSeed: 7,
    contextSeed: 1,
    contextWeight: 0.8,
    ...(maxLength !== undefined ? { maxLength } : {}),
  });
}

Deno.test("lookup branch, greedy: every drafting decoder emits the autoregressive tokens and accepts copied tokens", async (t) => {
  const tokenizer = new SyntheticTokenizer(V);
  const ar = new AutoregressiveDecoder({
    model: target(),
    tokenizer,
    config: { maxNewTokens: NEW },
  });
  const ref: number[][] = [];
  for (const p of PROMPTS) ref.push((await ar.generate(p)).tokens);
  for (const [label, depth, make] of DECODERS) {
    await t.step(label, async () => {
      const branches: LookupBranchConfig[] = [
        { lookupTokens: 8 },
        { lookupTokens: 6, lookupMinNgram: 1 },
      ];
      for (const branch of branches) {
        const dec = make(target(), { ...branch, maxNewTokens: NEW });
        let beyond = 0; // steps that accepted more tokens than the drafter alone could offer
        for (let i = 0; i < PROMPTS.length; i++) {
          const r = await dec.generate(PROMPTS[i]!);
          assert.deepEqual(r.tokens, ref[i], `${JSON.stringify(branch)} prompt ${i}`);
          const h = r.metrics.acceptedLengthHistogram;
          for (let m = depth + 1; m < h.length; m++) beyond += h[m]!;
        }
        assert.ok(beyond > 0, `${JSON.stringify(branch)}: no step accepted a copied token`);
      }
    });
  }
});

/** Summed metrics of a decoder over PROMPTS. */
interface Sums {
  draftForwards: number;
  drafted: number;
  steps: number;
}

/**
 * Runs a decoder with a lookup branch of 8 and the same without one over PROMPTS, checks both
 * emit the autoregressive tokens, and sums their metrics.
 */
async function withAndWithoutBranch(
  make: (lookupTokens: number) => Decoder,
): Promise<{ branch: Sums; plain: Sums }> {
  const ar = new AutoregressiveDecoder({
    model: target(),
    tokenizer: new SyntheticTokenizer(V),
    config: { maxNewTokens: NEW },
  });
  const decoders = { branch: make(8), plain: make(0) };
  const sums = {
    branch: { draftForwards: 0, drafted: 0, steps: 0 },
    plain: { draftForwards: 0, drafted: 0, steps: 0 },
  };
  for (const p of PROMPTS) {
    const ref = (await ar.generate(p)).tokens;
    for (const k of ["branch", "plain"] as const) {
      const r = await decoders[k].generate(p);
      assert.deepEqual(r.tokens, ref, `${k}: ${p}`);
      sums[k].draftForwards += r.metrics.draftForwards;
      sums[k].drafted += r.metrics.drafted;
      sums[k].steps += r.metrics.steps;
    }
  }
  return sums;
}

Deno.test("lookup branch, greedy draft-target: copied tokens the draft agrees with are drafted in one forward", async () => {
  // The draft is the target itself: it agrees with every copied token the target would emit.
  const { branch, plain } = await withAndWithoutBranch((lookupTokens) =>
    new DraftTargetDecoder({
      draftModel: target(),
      targetModel: target(),
      tokenizer: new SyntheticTokenizer(V),
      config: { maxNewTokens: NEW, numSpeculativeTokens: 4, lookupTokens },
    })
  );
  // Without seeding each drafted token costs one draft forward; with it, fewer.
  assert.ok(
    branch.draftForwards < plain.draftForwards,
    `${branch.draftForwards} vs ${plain.draftForwards} draft forwards`,
  );
  assert.ok(
    branch.draftForwards < branch.drafted,
    `${branch.draftForwards} forwards for ${branch.drafted} drafts`,
  );
});

Deno.test("lookup branch, greedy EAGLE: a copy that starts with the head's token is the draft, with no more head forwards", async () => {
  const { branch, plain } = await withAndWithoutBranch((lookupTokens) => {
    const lm = target();
    return new EagleDecoder({
      targetModel: lm,
      head: new SyntheticEagleHead(lm, 0.6),
      tokenizer: new SyntheticTokenizer(V),
      config: { maxNewTokens: NEW, treeNodes: 0, numSpeculativeTokens: 3, lookupTokens },
    });
  });
  // Head forwards per step: the backlog's and K - 1 = 2 for the chain, except in steps whose
  // draft is a copy (the backlog's only).
  const perBranch = branch.draftForwards / branch.steps;
  const perPlain = plain.draftForwards / plain.steps;
  assert.ok(perBranch < perPlain - 0.2, `${perBranch} vs ${perPlain} head forwards per step`);
});

Deno.test("lookup branch, draft-target: a copy that leaves the draft's chain verifies no more rows than a full chain", async () => {
  // K = 3 against a draft that often disagrees, 1-gram matches so the branch fires in most steps:
  // every tree forward (a copy that leaves the chain) has at most K + 1 = 4 rows, while chain
  // forwards (a copy that extends the draft) may run longer.
  const K = 3;
  let trees = 0, longChains = 0;
  const make = (): DraftTargetDecoder => {
    const lm = target();
    const forward = lm.forward.bind(lm);
    lm.forward = (ids, positions, options = {}) => {
      if (options.treeMask !== undefined) {
        trees++;
        assert.ok(ids.length <= K + 1, `a tree of ${ids.length} rows`);
      } else if (ids.length > K + 1 && lm.kvLength > 0) longChains++;
      return forward(ids, positions, options);
    };
    return new DraftTargetDecoder({
      draftModel: draftOf(lm),
      targetModel: lm,
      tokenizer: new SyntheticTokenizer(V),
      config: { maxNewTokens: NEW, numSpeculativeTokens: K, lookupTokens: 12, lookupMinNgram: 1 },
    });
  };
  const ar = new AutoregressiveDecoder({
    model: target(),
    tokenizer: new SyntheticTokenizer(V),
    config: { maxNewTokens: NEW },
  });
  for (const p of PROMPTS) {
    assert.deepEqual((await make().generate(p)).tokens, (await ar.generate(p)).tokens, p);
  }
  assert.ok(trees > 0, "no step verified a copy that leaves the chain");
  assert.ok(longChains > 0, "no step verified a copy that extends the chain");
});

Deno.test("lookup branch, greedy: equality holds up to a full cache (finishReason context)", async () => {
  const tokenizer = new SyntheticTokenizer(V);
  const ar = await new AutoregressiveDecoder({ model: target(40), tokenizer }).generate(
    "abcabcab",
    { maxNewTokens: 100 },
  );
  assert.equal(ar.finishReason, "context");
  for (const [label, , make] of DECODERS) {
    const r = await make(target(40), { lookupTokens: 16, lookupMinNgram: 1 }).generate(
      "abcabcab",
      { maxNewTokens: 100 },
    );
    assert.deepEqual(r.tokens, ar.tokens, label);
    assert.equal(r.finishReason, "context", label);
  }
});

Deno.test("lookup branch, greedy: equality holds at every maxNewTokens (the length limit)", async () => {
  const tokenizer = new SyntheticTokenizer(V);
  const ar = new AutoregressiveDecoder({ model: target(), tokenizer });
  for (const n of [1, 2, 3, 5, 9]) {
    const ref = (await ar.generate("abcabcabc", { maxNewTokens: n })).tokens;
    for (const [label, , make] of DECODERS) {
      const r = await make(target(), { lookupTokens: 8, lookupMinNgram: 1 }).generate(
        "abcabcabc",
        { maxNewTokens: n },
      );
      assert.deepEqual(r.tokens, ref, `${label}, maxNewTokens ${n}`);
    }
  }
});

// Sampling: the joint distribution of the first three tokens, as in sampling_distribution_test.
const SV = 5;
const DRAWS = 20_000;
const PROMPT = [0, 1, 2];

function sampleTarget(): SyntheticLM {
  return new SyntheticLM({
    vocabSize: SV,
    tableSeed: 3,
    contextSeed: 1,
    tableWeight: 1.5,
    contextWeight: 1,
  });
}

/** Drafters of depth 1: a step that accepts two tokens took the lookup branch. */
const SHALLOW: Array<[string, Make]> = [
  ["DraftTargetDecoder K=1", (lm, c) =>
    new DraftTargetDecoder({
      draftModel: new SyntheticLM({
        vocabSize: lm.vocabSize,
        tableSeed: 3,
        contextSeed: 5,
        tableWeight: 1.5,
        contextWeight: 0.5,
      }),
      targetModel: lm,
      tokenizer: new SyntheticTokenizer(lm.vocabSize),
      config: { ...c, numSpeculativeTokens: 1 },
    })],
  ["MedusaDecoder exact, 2 children of the root", (lm, c) =>
    new MedusaDecoder({
      baseModel: lm,
      heads: new SyntheticHeads(lm, 2, 0.3),
      tokenizer: new SyntheticTokenizer(lm.vocabSize),
      config: { ...c, medusaChoices: [[0], [1]], acceptance: "exact" },
    })],
  ["EagleDecoder chain K=1", (lm, c) =>
    new EagleDecoder({
      targetModel: lm,
      head: new SyntheticEagleHead(lm, 0.6),
      tokenizer: new SyntheticTokenizer(lm.vocabSize),
      config: { ...c, treeNodes: 0, numSpeculativeTokens: 1 },
    })],
  ["EagleDecoder sampled 2-node tree", (lm, c) =>
    new EagleDecoder({
      targetModel: lm,
      head: new SyntheticEagleHead(lm, 0.6),
      tokenizer: new SyntheticTokenizer(lm.vocabSize),
      config: { ...c, treeNodes: 2, branching: 2, numSpeculativeTokens: 1 },
    })],
];

for (const sampling of [{ temperature: 1 }, { temperature: 0.8, topK: 4, topP: 0.95 }]) {
  for (const [label, make] of SHALLOW) {
    const depth = 1;
    Deno.test(`lookup branch, sampling ${JSON.stringify(sampling)}: ${label} follows the target (chi-square, ${DRAWS} runs)`, async () => {
      const dec = make(sampleTarget(), { ...sampling, lookupTokens: 3, lookupMinNgram: 1 });
      let beyond = 0;
      const counts = await firstThreeHistogram(dec, PROMPT, SV, DRAWS, (r) => {
        const h = r.metrics.acceptedLengthHistogram;
        for (let m = depth + 1; m < h.length; m++) beyond += h[m]!;
      });
      const r = chiSquareTest(counts, exactFirstThree(sampleTarget(), sampling, PROMPT));
      assert.ok(
        r.pValue > 0.001,
        `chi2 = ${r.statistic.toFixed(1)}, df ${r.degreesOfFreedom}, p = ${r.pValue}`,
      );
      assert.ok(
        beyond > 0,
        "no copied token was ever accepted: the test would not exercise the rule",
      );
    });
  }
}

Deno.test("lookup branch settings out of range are rejected by name", () => {
  const lm = target();
  for (const [, , make] of DECODERS) {
    assert.throws(() => make(lm, { lookupTokens: -1 }), /lookupTokens/);
    assert.throws(() => make(lm, { lookupTokens: 65 }), /lookupTokens/);
    assert.throws(() => make(lm, { lookupTokens: 1.5 }), /lookupTokens/);
    assert.throws(() => make(lm, { lookupTokens: 4, lookupMinNgram: 0 }), /lookupMinNgram/);
    assert.throws(
      () => make(lm, { lookupTokens: 4, lookupMinNgram: 3, lookupMaxNgram: 2 }),
      /lookupMaxNgram/,
    );
  }
});
