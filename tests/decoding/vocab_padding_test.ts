// Draft and target whose vocabularies differ only by padding (one tokenizer): greedy output is
// the target's token for token and sampled output follows the target's distribution (the
// target may even emit its padded ids, which the draft never sees).

import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import { DraftTargetDecoder } from "../../lib/decoding/draft_target.ts";
import { LogitsProcessor } from "../../lib/sampling/logits_processor.ts";
import { chiSquareTest } from "../sampling/_chi_square.ts";
import { SyntheticLM, SyntheticTokenizer } from "./_synthetic_lm.ts";

const TOKENIZER_V = 5;
const TARGET_V = 7; // padded by 2
const DRAFT_V = 6; // padded by 1
const tokenizer = new SyntheticTokenizer(TOKENIZER_V);
const target = (): SyntheticLM =>
  new SyntheticLM({ vocabSize: TARGET_V, tableSeed: 3, contextSeed: 1, tableWeight: 1.5 });
const draft = (vocabSize = DRAFT_V): SyntheticLM =>
  new SyntheticLM({
    vocabSize,
    tableSeed: 3,
    contextSeed: 5,
    contextWeight: 0.5,
    tableWeight: 1.5,
  });

Deno.test("DraftTargetDecoder with padded vocabularies: greedy output equals the target's", async () => {
  for (const dv of [DRAFT_V, TARGET_V + 3]) {
    for (const prompt of [[0, 1, 2], [4, 4], [3, 0, 1, 2, 4]]) {
      const ar = await new AutoregressiveDecoder({
        model: target(),
        tokenizer,
        config: { maxNewTokens: 40 },
      }).generate(prompt);
      const sd = await new DraftTargetDecoder({
        draftModel: draft(dv),
        targetModel: target(),
        tokenizer,
        config: { numSpeculativeTokens: 3, maxNewTokens: 40 },
      }).generate(prompt);
      assert.deepEqual(sd.tokens, ar.tokens, `draft vocab ${dv}, prompt ${prompt}`);
      assert.ok(sd.metrics.acceptanceRate > 0, "the draft proposes accepted tokens");
    }
  }
});

Deno.test("DraftTargetDecoder with padded vocabularies: sampling follows the target (chi-square)", async () => {
  const PROMPT = [0, 1, 2];
  const V = TARGET_V;
  const proc = new LogitsProcessor({ temperature: 1 });
  const lm = target();
  const ctx: Array<[number, number]> = PROMPT.map((t, i) => [t, i]);
  const probs = new Float64Array(V * V);
  const p1 = proc.probs(lm.logitsFor(ctx));
  for (let a = 0; a < V; a++) {
    const p2 = proc.probs(lm.logitsFor([...ctx, [a, 3]]));
    for (let b = 0; b < V; b++) probs[a * V + b] = p1[a]! * p2[b]!;
  }
  assert.ok(p1[5]! + p1[6]! > 0.01, "the target gives its padded ids some mass");
  const dec = new DraftTargetDecoder({
    draftModel: draft(),
    targetModel: target(),
    tokenizer,
    config: { temperature: 1, numSpeculativeTokens: 2 },
  });
  const counts = new Array(V * V).fill(0);
  for (let seed = 0; seed < 12_000; seed++) {
    const r = await dec.generate(PROMPT, { seed, maxNewTokens: 3 });
    counts[r.tokens[0]! * V + r.tokens[1]!]++;
  }
  const r = chiSquareTest(counts, probs);
  assert.ok(r.pValue > 0.001, `chi2 = ${r.statistic.toFixed(1)}, p = ${r.pValue}`);
});

Deno.test("DraftTargetDecoder refuses vocabularies that differ by more than padding", () => {
  assert.throws(
    () =>
      new DraftTargetDecoder({
        draftModel: draft(4),
        targetModel: target(),
        tokenizer,
      }),
    /differ by more than padding: the tokenizer has 5 ids/,
  );
});

Deno.test("DraftTargetDecoder refuses a draft tokenizer that differs from the target's", () => {
  const other = new SyntheticTokenizer(TOKENIZER_V, 2);
  assert.throws(
    () =>
      new DraftTargetDecoder({
        draftModel: draft(),
        targetModel: target(),
        tokenizer,
        draftTokenizer: other,
      }),
    /draftTokenizer differs from tokenizer/,
  );
});

Deno.test("DraftTargetDecoder with padded vocabularies refuses prompt ids outside the shared range", async () => {
  const dec = new DraftTargetDecoder({ draftModel: draft(), targetModel: target(), tokenizer });
  await assert.rejects(() => dec.generate([0, 6]), /\[0, 6\)/);
});
