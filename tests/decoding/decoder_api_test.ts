import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import { DraftTargetDecoder } from "../../lib/decoding/draft_target.ts";
import { MedusaDecoder } from "../../lib/decoding/medusa.ts";
import { lookupDraft, PromptLookupDecoder } from "../../lib/decoding/prompt_lookup.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";
import { SyntheticHeads, SyntheticLM, SyntheticTokenizer } from "./_synthetic_lm.ts";

const V = 16;
const tokenizer = new SyntheticTokenizer(V);
const lm = (seed = 1, maxLength = 256): SyntheticLM =>
  new SyntheticLM({ vocabSize: V, tableSeed: 7, contextSeed: seed, contextWeight: 0.8, maxLength });

function dt(config = {}): DraftTargetDecoder {
  return new DraftTargetDecoder({ draftModel: lm(2), targetModel: lm(1), tokenizer, config });
}

Deno.test("generate() returns text, tokens, finish reason and consistent metrics", async () => {
  const r = await dt({ numSpeculativeTokens: 4 }).generate("hello", { maxNewTokens: 40 });
  assert.equal(r.tokens.length, 40);
  assert.equal(r.text, tokenizer.decode(r.tokens));
  assert.equal(r.finishReason, "length");
  assert.equal(r.promptTokens, 5);
  const m = r.metrics;
  assert.equal(m.newTokens, 40);
  assert.equal(m.targetForwards, m.steps + 1);
  assert.ok(m.accepted <= m.drafted);
  assert.equal(m.acceptanceRate, m.accepted / m.drafted);
  assert.equal(m.meanAcceptedLength, (m.accepted + m.steps) / m.steps);
  // every emitted token is the prefill token, an accepted draft or one per step,
  // except a step's tail cut by maxNewTokens
  assert.ok(1 + m.accepted + m.steps >= 40);
  assert.equal(m.acceptedLengthHistogram.reduce((a, b) => a + b, 0), m.steps);
  assert.equal(m.draftedPerPosition.reduce((a, b) => a + b, 0), m.drafted);
  assert.equal(m.acceptedPerPosition.reduce((a, b) => a + b, 0), m.accepted);
  for (let i = 1; i < m.acceptedPerPosition.length; i++) {
    assert.ok(m.acceptedPerPosition[i]! <= m.acceptedPerPosition[i - 1]!);
  }
  assert.ok(m.wallTimeMs > 0 && m.tokensPerSecond > 0);
  assert.ok(m.c !== undefined && m.c > 0);
  assert.equal(m.speedup, undefined);
  const withBase = await dt().generate("hello", {
    maxNewTokens: 8,
    baseline: { tokensPerSecond: 1 },
  });
  assert.ok(withBase.metrics.speedup !== undefined && withBase.metrics.speedup > 0);
});

Deno.test("the heuristic schedule grows and shrinks K", async () => {
  const r = await dt({ numSpeculativeTokens: 2, schedule: "heuristic", maxSpeculativeTokens: 8 })
    .generate("hello", { maxNewTokens: 64 });
  assert.ok(r.metrics.draftedPerPosition.length > 2, "K grew past its start");
  const c = await dt({ numSpeculativeTokens: 8, confidenceThreshold: 0.9 }).generate("hello", {
    maxNewTokens: 64,
  });
  const full = await dt({ numSpeculativeTokens: 8 }).generate("hello", { maxNewTokens: 64 });
  assert.ok(c.metrics.meanSpeculationLength < full.metrics.meanSpeculationLength);
  assert.deepEqual(c.tokens, full.tokens);
});

Deno.test("stream() yields pieces that add up to the text", async () => {
  for (const dec of [dt(), new AutoregressiveDecoder({ model: lm(), tokenizer })]) {
    const it = dec.stream("hello", { maxNewTokens: 30 });
    const pieces: string[] = [];
    let r = await it.next();
    while (!r.done) {
      pieces.push(r.value);
      r = await it.next();
    }
    assert.ok(pieces.length > 1);
    assert.equal(pieces.join(""), r.value.text);
    assert.equal(r.value.tokens.length, 30);
  }
});

Deno.test("stop strings cut the text; EOS ends generation", async () => {
  const full = await dt().generate("hello", { maxNewTokens: 64 });
  const stop = full.text.slice(20, 23);
  const first = full.text.indexOf(stop);
  const r = await dt().generate("hello", { maxNewTokens: 64, stopStrings: [stop, "zzzzzz"] });
  assert.equal(r.finishReason, "stop");
  assert.equal(r.text, full.text.slice(0, first));
  // a stream never emits part of the stop string
  const it = dt().stream("hello", { maxNewTokens: 64, stopStrings: [stop] });
  let streamed = "";
  for (let x = await it.next(); !x.done; x = await it.next()) streamed += x.value;
  assert.equal(streamed, full.text.slice(0, first));

  const eos = full.tokens[10]!;
  const withEos = new SyntheticTokenizer(V, eos);
  const e = await new DraftTargetDecoder({
    draftModel: lm(2),
    targetModel: lm(1),
    tokenizer: withEos,
  }).generate("hello", { maxNewTokens: 64 });
  assert.equal(e.finishReason, "eos");
  const at = full.tokens.indexOf(eos);
  assert.deepEqual(e.tokens, full.tokens.slice(0, at + 1));
});

Deno.test("an AbortSignal stops generation with its reason", async () => {
  const ac = new AbortController();
  const dec = dt();
  const it = dec.stream("hello", { maxNewTokens: 64, signal: ac.signal });
  await it.next();
  ac.abort(new Error("user stop"));
  await assert.rejects(async () => {
    for (let x = await it.next(); !x.done; x = await it.next()) { /* drain */ }
  }, /user stop/);
  // the decoder is free again
  assert.equal((await dec.generate("hello", { maxNewTokens: 4 })).tokens.length, 4);
  const pre = AbortSignal.abort(new Error("already"));
  await assert.rejects(dec.generate("hello", { signal: pre }), /already/);
});

Deno.test("a decoder runs one generation at a time", async () => {
  const dec = dt();
  const a = dec.generate("hello", { maxNewTokens: 16 });
  await assert.rejects(dec.generate("hello"), SpecDecError);
  await a;
});

Deno.test("lookupDraft() prefers the longest n-gram and the latest match", () => {
  //            0  1  2  3  4  5  6  7  8  9
  const ctx = [1, 2, 3, 9, 5, 2, 3, 7, 1, 2, 3];
  assert.deepEqual(lookupDraft(ctx, 3, 3, 1), [9, 5, 2]); // 3-gram [1,2,3] at 0
  assert.deepEqual(lookupDraft([4, 2, 3, 8, 2, 3, 6, 1, 3], 2, 3, 1), [6, 1]); // 1-gram [3], latest
  assert.deepEqual(lookupDraft([1, 2, 3], 4, 3, 1), []);
});

Deno.test("bad input: config parameters are named before any model work", () => {
  const cases: Array<[object, RegExp, ErrorConstructor]> = [
    [{ temperature: -1 }, /temperature/, RangeError],
    [{ topP: 0 }, /topP/, RangeError],
    [{ topP: 1.01 }, /topP/, RangeError],
    [{ topK: -1 }, /topK/, RangeError],
    [{ numSpeculativeTokens: 0 }, /numSpeculativeTokens/, RangeError],
    [{ numSpeculativeTokens: 33 }, /numSpeculativeTokens.*32/, RangeError],
    [{ numSpeculativeTokens: 2.5 }, /numSpeculativeTokens/, TypeError],
    [{ maxNewTokens: 0 }, /maxNewTokens/, RangeError],
    [{ schedule: "fast" }, /schedule/, RangeError],
    [{ confidenceThreshold: 1 }, /confidenceThreshold/, RangeError],
    [{ numSpeculativeTokens: 4, maxSpeculativeTokens: 3 }, /maxSpeculativeTokens/, RangeError],
    [{ seed: 0.5 }, /seed/, TypeError],
  ];
  for (const [config, re, cls] of cases) {
    const target = lm(1), draft = lm(2);
    assert.throws(
      () => new DraftTargetDecoder({ draftModel: draft, targetModel: target, tokenizer, config }),
      (e: Error) => e instanceof cls && re.test(e.message),
      JSON.stringify(config),
    );
    assert.equal(target.forwards + draft.forwards, 0);
  }
  assert.throws(
    () => new PromptLookupDecoder({ model: lm(), tokenizer, config: { maxNgramSize: 0 } }),
    /maxNgramSize/,
  );
  assert.throws(
    () => new PromptLookupDecoder({ model: lm(), tokenizer, config: { numSpeculativeTokens: 65 } }),
    /numSpeculativeTokens/,
  );
});

Deno.test("bad input: draft and target vocabularies or tokenizers must match", () => {
  const small = new SyntheticLM({ vocabSize: 12 });
  assert.throws(
    () => new DraftTargetDecoder({ draftModel: small, targetModel: lm(), tokenizer }),
    (e: Error) =>
      e instanceof RangeError &&
      /draftModel vocabSize 12.*targetModel vocabSize 16/.test(e.message),
  );
  assert.throws(
    () =>
      new DraftTargetDecoder({
        draftModel: lm(2),
        targetModel: lm(),
        tokenizer,
        draftTokenizer: new SyntheticTokenizer(V, 3),
      }),
    /draftTokenizer/,
  );
  assert.throws(
    () => new AutoregressiveDecoder({ model: small, tokenizer }),
    /tokenizer vocabSize 16 exceeds model vocabSize 12/,
  );
  const m = lm();
  assert.throws(
    () => new DraftTargetDecoder({ draftModel: m, targetModel: m, tokenizer }),
    /different/,
  );
});

Deno.test("bad input: Medusa tree deeper than the heads, or ranks past the top-k", () => {
  const base = lm();
  const heads = new SyntheticHeads(base, 2);
  assert.throws(
    () =>
      new MedusaDecoder({
        baseModel: base,
        heads,
        tokenizer,
        config: { medusaChoices: [[0], [0, 0], [0, 0, 0]] },
      }),
    (e: Error) => e instanceof RangeError && /depth 3 exceeds numHeads 2/.test(e.message),
  );
  assert.throws(
    () => new MedusaDecoder({ baseModel: base, heads, tokenizer, config: { numHeads: 3 } }),
    /numHeads/,
  );
  assert.throws(
    () => new MedusaDecoder({ baseModel: base, heads, tokenizer, config: { treeWidth: 1 } }),
    /treeWidth/,
  );
  assert.throws(
    () =>
      new MedusaDecoder({
        baseModel: base,
        heads,
        tokenizer,
        config: { medusaChoices: [[0], [3]], numCandidatesPerHead: 2 },
      }),
    /numCandidatesPerHead/,
  );
  assert.throws(
    () =>
      new MedusaDecoder({
        baseModel: base,
        heads,
        tokenizer,
        config: { treeWidth: 8, medusaChoices: [[0]] },
      }),
    /not both/,
  );
  assert.throws(
    () =>
      new MedusaDecoder({
        baseModel: base,
        heads,
        tokenizer,
        config: { acceptance: "maybe" as "exact", temperature: 1 },
      }),
    /acceptance/,
  );
  assert.throws(
    () =>
      new MedusaDecoder({
        baseModel: base,
        heads: new SyntheticHeads(new SyntheticLM({ vocabSize: 8 })),
        tokenizer,
      }),
    /heads vocabSize/,
  );
  // a shallow tree on 2 heads is fine
  const ok = new MedusaDecoder({ baseModel: base, heads, tokenizer, config: { treeWidth: 16 } });
  assert.equal(ok.tree.maxDepth, 2);
  assert.equal(base.forwards, 0);
});

Deno.test("bad input: empty prompt, bad ids and a prompt longer than the context", async () => {
  const target = lm(1, 32);
  const dec = new DraftTargetDecoder({ draftModel: lm(2, 32), targetModel: target, tokenizer });
  await assert.rejects(
    dec.generate(""),
    (e: Error) => e instanceof RangeError && /prompt/.test(e.message),
  );
  await assert.rejects(dec.generate([]), RangeError);
  await assert.rejects(dec.generate([1, 99]), /prompt token 1/);
  await assert.rejects(
    dec.generate("a".repeat(40)),
    (e: Error) =>
      e instanceof RangeError && /40 tokens/.test(e.message) && /32 tokens/.test(e.message),
  );
  await assert.rejects(dec.generate("abc", { maxNewTokens: -1 }), /maxNewTokens/);
  await assert.rejects(dec.generate("abc", { stopStrings: [""] }), /stopStrings/);
  assert.equal(target.forwards, 0);
});

Deno.test("MedusaDecoder typical acceptance is labelled lossy and accepts more than exact", async () => {
  const base = lm();
  const heads = new SyntheticHeads(base, 4);
  const make = (acceptance: "exact" | "typical", temperature: number): MedusaDecoder =>
    new MedusaDecoder({
      baseModel: base,
      heads,
      tokenizer,
      config: { treeWidth: 16, acceptance, temperature, maxNewTokens: 48 },
    });
  assert.equal(make("typical", 0.7).lossless, false);
  assert.equal(make("exact", 0.7).lossless, true);
  assert.equal(make("typical", 0).lossless, true); // greedy ignores the rule
  let typical = 0, exact = 0;
  for (let seed = 0; seed < 20; seed++) {
    typical += (await make("typical", 0.7).generate("hello", { seed })).metrics.meanAcceptedLength;
    exact += (await make("exact", 0.7).generate("hello", { seed })).metrics.meanAcceptedLength;
  }
  assert.ok(exact > 20 && typical > exact, `tau sums: typical ${typical}, exact ${exact}`);
  const g = await make("typical", 0).generate("hello");
  const ar = await new AutoregressiveDecoder({ model: lm(), tokenizer }).generate("hello", {
    maxNewTokens: 48,
  });
  assert.deepEqual(g.tokens, ar.tokens);
});
