import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import { type EagleConfig, EagleDecoder, eagleTreeShape } from "../../lib/decoding/eagle.ts";
import { SyntheticLM, SyntheticTokenizer } from "./_synthetic_lm.ts";
import { SyntheticEagleHead } from "./_synthetic_eagle.ts";

// Greedy losslessness and the draft plumbing of EagleDecoder on the synthetic
// model: the synthetic head checks every token, feature, position and mask it
// is fed, and with noise 0 it is an oracle whose drafts must all be accepted.

const V = 16;
const tokenizer = new SyntheticTokenizer(V);
const PROMPTS = [[1, 2, 3], [4], [5, 9, 9, 9, 2, 7, 1], [0, 15, 3, 3], [8, 8]];
const NEW = 64;

function target(): SyntheticLM {
  return new SyntheticLM({ vocabSize: V, maxLength: 160 });
}

const SHAPES: Array<[string, EagleConfig]> = [
  ...[1, 2, 3, 4, 5, 6].map((k): [string, EagleConfig] => [`chain K=${k}`, {
    treeNodes: 0,
    numSpeculativeTokens: k,
  }]),
  ["tree of 2 nodes", { treeNodes: 2, branching: 2 }],
  ["tree of 4 nodes", { treeNodes: 4, branching: 2, numSpeculativeTokens: 3 }],
  ["tree of 8 nodes", { treeNodes: 8, branching: 3, numSpeculativeTokens: 4 }],
  ["tree of 16 nodes", { treeNodes: 16, branching: 4, numSpeculativeTokens: 5 }],
  ["tree of 24 nodes, 2 expanded per depth", {
    treeNodes: 24,
    branching: 4,
    expandPerDepth: 2,
    numSpeculativeTokens: 6,
  }],
];

Deno.test("EagleDecoder greedy equals autoregressive on the synthetic LM (chains and trees)", async (t) => {
  const ref: number[][] = [];
  const ar = new AutoregressiveDecoder({
    model: target(),
    tokenizer,
    config: { maxNewTokens: NEW },
  });
  for (const p of PROMPTS) ref.push((await ar.generate(p)).tokens);
  for (const [label, config] of SHAPES) {
    await t.step(label, async () => {
      const lm = target();
      const head = new SyntheticEagleHead(lm, 1.2);
      const dec = new EagleDecoder({
        targetModel: lm,
        head,
        tokenizer,
        config: { ...config, maxNewTokens: NEW },
      });
      let accepted = 0;
      for (let i = 0; i < PROMPTS.length; i++) {
        const r = await dec.generate(PROMPTS[i]!);
        assert.deepEqual(r.tokens, ref[i], `${label}, prompt ${i}`);
        accepted += r.metrics.accepted;
      }
      assert.ok(accepted > 0, `${label}: the noisy head never helped`);
    });
  }
});

Deno.test("EagleDecoder with an oracle head accepts every chain draft and the whole top path of a tree", async () => {
  const lm = target();
  const head = new SyntheticEagleHead(lm, 0);
  const chain = new EagleDecoder({
    targetModel: lm,
    head,
    tokenizer,
    config: { treeNodes: 0, numSpeculativeTokens: 4, maxNewTokens: 41 },
  });
  const r = await chain.generate([1, 2, 3]);
  // 1 token from the prefill, then 8 steps of 4 drafts + 1
  assert.equal(r.metrics.steps, 8);
  assert.equal(r.metrics.acceptanceRate, 1);
  assert.equal(r.metrics.meanAcceptedLength, 5);
  const tree = new EagleDecoder({
    targetModel: lm,
    head,
    tokenizer,
    // every node of a full binary tree of depth 4 grown and kept (2 + 4 + 8 + 16)
    config: {
      treeNodes: 30,
      branching: 2,
      expandPerDepth: 8,
      numSpeculativeTokens: 4,
      maxNewTokens: 41,
    },
  });
  const rt = await tree.generate([1, 2, 3]);
  assert.equal(rt.metrics.meanAcceptedLength, 5);
  assert.deepEqual(rt.tokens, r.tokens);
});

Deno.test("EagleDecoder stops on stop strings, maxNewTokens and a full cache; aborts; reports metrics", async () => {
  const lm = new SyntheticLM({ vocabSize: V, maxLength: 40 });
  const head = new SyntheticEagleHead(lm, 0.5);
  const dec = new EagleDecoder({ targetModel: lm, head, tokenizer, config: { treeNodes: 6 } });
  const full = await dec.generate([1, 2, 3], { maxNewTokens: 100 });
  assert.equal(full.finishReason, "context");
  const ref = await new AutoregressiveDecoder({
    model: new SyntheticLM({ vocabSize: V, maxLength: 40 }),
    tokenizer,
  })
    .generate([1, 2, 3], { maxNewTokens: 100 });
  assert.deepEqual(full.tokens, ref.tokens);
  const text = tokenizer.decode(full.tokens);
  const stop = text.slice(10, 12);
  const s = await dec.generate([1, 2, 3], { stopStrings: [stop], maxNewTokens: 100 });
  assert.equal(s.finishReason, "stop");
  assert.equal(s.text, text.slice(0, text.indexOf(stop)));
  const n = await dec.generate([1, 2, 3], { maxNewTokens: 7 });
  assert.equal(n.tokens.length, 7);
  assert.equal(n.finishReason, "length");
  assert.ok(n.metrics.draftForwards > 0 && n.metrics.steps > 0);
  const ac = new AbortController();
  const it = dec.stream([1, 2, 3], { signal: ac.signal, maxNewTokens: 30 });
  await it.next();
  ac.abort(new Error("stop now"));
  await assert.rejects(async () => {
    for (;;) if ((await it.next()).done) break;
  }, /stop now/);
});

Deno.test("EagleDecoder rejects bad configs and mismatched heads", () => {
  const lm = target();
  const head = new SyntheticEagleHead(lm);
  const make = (config: EagleConfig): EagleDecoder =>
    new EagleDecoder({ targetModel: lm, head, tokenizer, config });
  assert.throws(() => make({ numSpeculativeTokens: 0 }), RangeError);
  assert.throws(() => make({ numSpeculativeTokens: 17 }), RangeError);
  assert.throws(() => make({ treeNodes: 129 }), RangeError);
  assert.throws(() => make({ branching: 0 }), RangeError);
  assert.throws(() => make({ expandPerDepth: 1.5 }), TypeError);
  const other = new SyntheticLM({ vocabSize: 8 });
  assert.throws(
    () => new EagleDecoder({ targetModel: lm, head: new SyntheticEagleHead(other), tokenizer }),
    /vocab 8.*vocab 16/,
  );
  assert.throws(
    () => new EagleDecoder({ targetModel: lm, head: {} as never, tokenizer }),
    TypeError,
  );
});

Deno.test("eagleTreeShape() gives every size a shape the decoder accepts, deeper as it grows", () => {
  let depth = 0;
  for (let n = 1; n <= 128; n++) {
    const s = eagleTreeShape(n);
    assert.equal(s.treeNodes, n);
    assert.ok(s.numSpeculativeTokens >= 1 && s.numSpeculativeTokens <= Math.min(n, 16));
    assert.ok(s.numSpeculativeTokens >= depth, `depth shrinks at ${n}`);
    depth = s.numSpeculativeTokens;
    const dec = new EagleDecoder({
      targetModel: target(),
      head: new SyntheticEagleHead(target()),
      tokenizer,
      config: s,
    });
    assert.equal(dec.branching, s.branching);
  }
  assert.throws(() => eagleTreeShape(0), RangeError);
  assert.throws(() => eagleTreeShape(129), RangeError);
});
