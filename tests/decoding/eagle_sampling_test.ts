import assert from "node:assert/strict";
import { type EagleConfig, EagleDecoder } from "../../lib/decoding/eagle.ts";
import type { SamplingOptions } from "../../lib/sampling/logits_processor.ts";
import { exactFirstThree, firstThreeHistogram } from "./_first_three.ts";
import { sampleCategorical } from "../../lib/sampling/sample_categorical.ts";
import type { Prng } from "../../lib/sampling/prng.ts";
import { type TreeVerdict, TreeVerifier } from "../../lib/tree/tree_verifier.ts";
import type { SpeculationTree } from "../../lib/tree/speculation_tree.ts";
import { chiSquareTest } from "../sampling/_chi_square.ts";
import { SyntheticLM, SyntheticTokenizer } from "./_synthetic_lm.ts";
import { SyntheticEagleHead } from "./_synthetic_eagle.ts";

// End to end: the joint distribution of the first three tokens EagleDecoder
// samples (chain: drafts sampled from the head and verified with their q;
// sampled tree: children drawn without replacement, verified against the
// distribution each was drawn from; top-k tree: verified by recursive
// rejection with point-mass drafts) must match the target's exactly
// (chi-square, significance 0.001), and the same test must reject a decoder
// whose rule forgets the residual.
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

const exact = (sampling: SamplingOptions): Float64Array =>
  exactFirstThree(target(), sampling, PROMPT);
const histogram = (dec: EagleDecoder): Promise<number[]> =>
  firstThreeHistogram(dec, PROMPT, V, DRAWS);

function decoder(sampling: SamplingOptions, shape: EagleConfig): EagleDecoder {
  const lm = target();
  return new EagleDecoder({
    targetModel: lm,
    head: new SyntheticEagleHead(lm, 0.6),
    tokenizer,
    config: { ...sampling, ...shape },
  });
}

const SHAPES: Array<[string, EagleConfig]> = [
  ["chain K=3", { treeNodes: 0, numSpeculativeTokens: 3 }],
  ["sampled tree of 8 nodes, depth 3", { treeNodes: 8, branching: 3, numSpeculativeTokens: 3 }],
  ["top-k tree of 8 nodes, depth 3", {
    treeNodes: 8,
    branching: 3,
    numSpeculativeTokens: 3,
    treeCandidates: "top-k",
  }],
];
const SETTINGS: SamplingOptions[] = [{ temperature: 1 }, { temperature: 0.8, topK: 4, topP: 0.95 }];

for (const sampling of SETTINGS) {
  for (const [label, shape] of SHAPES) {
    Deno.test(`EagleDecoder ${label}, sampling ${JSON.stringify(sampling)}: first three tokens follow the target (chi-square, ${DRAWS} runs)`, async () => {
      const dec = decoder(sampling, shape);
      const r = chiSquareTest(await histogram(dec), exact(sampling));
      assert.ok(
        r.pValue > 0.001,
        `chi2 = ${r.statistic.toFixed(1)}, df ${r.degreesOfFreedom}, p = ${r.pValue}`,
      );
      const m = (await dec.generate(PROMPT, { seed: 1, maxNewTokens: 40 })).metrics;
      assert.ok(m.accepted > 0, "no draft was ever accepted: the test would not exercise the rule");
    });
  }
}

/**
 * A deliberately wrong rule: recursive rejection that, once every child is
 * rejected, samples from the target's distribution instead of the residual.
 */
class NoResidualVerifier extends TreeVerifier {
  override verify(
    tree: SpeculationTree,
    logits: Float32Array,
    prng: Prng,
    draftProbs?: (node: number) => Float64Array | null,
  ): TreeVerdict {
    const vocab = logits.length / tree.size;
    const path: number[] = [];
    const tokens: number[] = [];
    let node = 0;
    for (;;) {
      const p = this.processor.probs(logits.subarray(node * vocab, (node + 1) * vocab));
      const next = tree.children(node).find((k) => {
        const q = draftProbs?.(k) ?? null;
        const x = tree.token(k);
        return prng.nextFloat() * (q === null ? 1 : q[x]!) < p[x]!;
      });
      if (next === undefined) return { path, tokens, nextToken: sampleCategorical(p, prng) };
      node = next;
      path.push(node);
      tokens.push(tree.token(node));
    }
  }
}

for (const [label, shape] of SHAPES) {
  Deno.test(`a wrong rule (no residual after rejections) fails the same test (${label})`, async () => {
    const sampling = { temperature: 1 };
    const lm = target();
    class Wrong extends EagleDecoder {
      override readonly verifier: TreeVerifier = new NoResidualVerifier(sampling);
    }
    const dec = new Wrong({
      targetModel: lm,
      head: new SyntheticEagleHead(lm, 0.6),
      tokenizer,
      config: { ...sampling, ...shape },
    });
    const r = chiSquareTest(await histogram(dec), exact(sampling));
    assert.ok(r.pValue < 0.001, `the wrong rule passed: p = ${r.pValue}`);
  });
}

Deno.test("EagleDecoder sampling is reproducible from the seed", async () => {
  const dec = decoder({ temperature: 1 }, { treeNodes: 6 });
  const a = await dec.generate(PROMPT, { seed: 42, maxNewTokens: 32 });
  const b = await dec.generate(PROMPT, { seed: 42, maxNewTokens: 32 });
  const c = await dec.generate(PROMPT, { seed: 43, maxNewTokens: 32 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
});
