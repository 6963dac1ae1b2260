// The decoders on the real ONNX Runtime model (CausalLM) with the committed
// random checkpoints: greedy output must equal autoregressive decoding while
// exercising the runtime's rewind, tree mask and keep() on many accepted
// paths (a draft identical to the target accepts every token; oracle Medusa
// heads put the true continuation at varying ranks of the tree).

import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import { DraftTargetDecoder } from "../../lib/decoding/draft_target.ts";
import { MedusaDecoder } from "../../lib/decoding/medusa.ts";
import { PromptLookupDecoder } from "../../lib/decoding/prompt_lookup.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import type { LanguageModel, PredictionHeads } from "../../lib/model/language_model.ts";
import { MedusaHeads } from "../../lib/model/medusa_heads.ts";
import { Tokenizer } from "../../lib/model/tokenizer.ts";
import { Prng } from "../../lib/sampling/prng.ts";
import { MEDUSA_TREE_SIZES } from "../../lib/tree/medusa_choices.ts";

const FIX = new URL("../fixtures/random/", import.meta.url).pathname;
const NEW = 48;
const MAX_LEN = 160;

/** Heads that know the autoregressive continuation and rank it 0, 1 or 2. */
class OracleHeads implements PredictionHeads {
  readonly numHeads = 4;
  readonly vocabSize: number;
  #base: LanguageModel;
  #promptLength = 0;
  #ref: number[] = [];

  constructor(base: LanguageModel) {
    this.#base = base;
    this.vocabSize = base.vocabSize;
  }

  /** Sets the prompt length and the reference continuation of the next run. */
  expect(promptLength: number, ref: number[]): void {
    this.#promptLength = promptLength;
    this.#ref = ref;
  }

  forward(_hidden: Float32Array): Promise<Float32Array> {
    const v = this.vocabSize;
    const out = new Float32Array(this.numHeads * v).fill(-1000); // [numHeads, vocab] f32
    const pending = this.#base.kvLength - this.#promptLength; // index of the pending token
    for (let k = 0; k < this.numHeads; k++) {
      const truth = this.#ref[pending + k + 1] ?? 0;
      // rank 0 most often, sometimes 1 or 2, sometimes out of any tree (9)
      const h = (Math.imul(pending + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77)) >>> 0;
      const rank = [0, 0, 0, 0, 0, 0, 1, 1, 2, 9][(h >>> 7) % 10]!;
      const order: number[] = [];
      for (let j = 1; order.length < 10; j++) order.push((truth + j * 37) % v);
      order.splice(rank, 0, truth);
      order.forEach((t, j) => out[k * v + t] = 10 - j);
    }
    return Promise.resolve(out);
  }
}

function prompts(): number[][] {
  const ref = JSON.parse(Deno.readTextFileSync(`${FIX}llama/reference.json`)) as {
    prompt_ids: number[];
  };
  const g = new Prng(2026);
  const out = [ref.prompt_ids];
  for (let i = 0; i < 3; i++) {
    out.push(Array.from({ length: 4 + 5 * i }, () => g.nextUint32() % 256));
  }
  return out;
}

Deno.test("decoders on ONNX Runtime (random llama): greedy equals autoregressive", async (t) => {
  const tokenizer = await Tokenizer.load(`${FIX}llama`);
  using target = await CausalLM.load(`${FIX}llama`, { maxLength: MAX_LEN, threads: 1 });
  using twin = await CausalLM.load(`${FIX}llama`, { maxLength: MAX_LEN, threads: 1 });
  using other = await CausalLM.load(`${FIX}llama-untied`, { maxLength: MAX_LEN, threads: 1 });
  const ps = prompts();
  const ar = new AutoregressiveDecoder({ model: target, tokenizer, config: { maxNewTokens: NEW } });
  const ref: number[][] = [];
  for (const p of ps) ref.push((await ar.generate(p)).tokens);

  for (const k of [1, 2, 3, 5, 8]) {
    await t.step(
      `DraftTargetDecoder K=${k}, draft = the target's twin (all accepted)`,
      async () => {
        const dec = new DraftTargetDecoder({
          draftModel: twin,
          targetModel: target,
          tokenizer,
          config: { numSpeculativeTokens: k, maxNewTokens: NEW },
        });
        for (let i = 0; i < ps.length; i++) {
          const r = await dec.generate(ps[i]!);
          assert.deepEqual(r.tokens, ref[i], `prompt ${i}`);
          assert.equal(r.metrics.acceptanceRate, 1);
        }
      },
    );
    await t.step(`DraftTargetDecoder K=${k}, draft = another model`, async () => {
      const dec = new DraftTargetDecoder({
        draftModel: other,
        targetModel: target,
        tokenizer,
        config: { numSpeculativeTokens: k, maxNewTokens: NEW },
      });
      for (let i = 0; i < ps.length; i++) {
        assert.deepEqual((await dec.generate(ps[i]!)).tokens, ref[i], `prompt ${i}`);
      }
    });
  }

  await t.step("MedusaDecoder with oracle heads (trees of 4..64 nodes, depth 4)", async () => {
    const heads = new OracleHeads(target);
    for (const size of MEDUSA_TREE_SIZES) {
      const dec = new MedusaDecoder({
        baseModel: target,
        heads,
        tokenizer,
        config: { treeWidth: size, maxNewTokens: NEW },
      });
      let deep = 0;
      for (let i = 0; i < ps.length; i++) {
        heads.expect(ps[i]!.length, ref[i]!);
        const r = await dec.generate(ps[i]!);
        assert.deepEqual(r.tokens, ref[i], `tree ${size}, prompt ${i}`);
        deep += r.metrics.acceptedLengthHistogram.slice(2).reduce((a, b) => a + b, 0);
      }
      assert.ok(deep > 0, `tree ${size}: some steps accept 2+ tokens`);
    }
  });

  await t.step("MedusaDecoder with the checkpoint's own (random) heads", async () => {
    using heads = await MedusaHeads.load(`${FIX}llama/medusa`, { threads: 1 });
    for (const size of MEDUSA_TREE_SIZES) {
      const dec = new MedusaDecoder({
        baseModel: target,
        heads,
        tokenizer,
        config: { treeWidth: size, maxNewTokens: NEW },
      });
      for (let i = 0; i < ps.length; i++) {
        assert.deepEqual((await dec.generate(ps[i]!)).tokens, ref[i], `tree ${size}, prompt ${i}`);
      }
    }
  });

  await t.step("PromptLookupDecoder", async () => {
    const dec = new PromptLookupDecoder({
      model: target,
      tokenizer,
      config: { maxNewTokens: NEW },
    });
    for (let i = 0; i < ps.length; i++) {
      assert.deepEqual((await dec.generate(ps[i]!)).tokens, ref[i], `prompt ${i}`);
    }
  });
});
