import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import type { Decoder } from "../../lib/decoding/decoder.ts";
import { DraftTargetDecoder } from "../../lib/decoding/draft_target.ts";
import { PromptLookupDecoder } from "../../lib/decoding/prompt_lookup.ts";
import { MedusaDecoder } from "../../lib/decoding/medusa.ts";
import { MEDUSA_TREE_SIZES } from "../../lib/tree/medusa_choices.ts";
import { LogitsProcessor } from "../../lib/sampling/logits_processor.ts";
import { chiSquareTest } from "../sampling/_chi_square.ts";
import {
  hasCheckpoint,
  hasHeads,
  heldOutPrompts,
  loadDraft,
  loadHeads,
  loadModel,
  loadTokenizer,
  PRECISIONS,
  TINY_PAIRS,
} from "./_real_models.ts";

// Greedy losslessness on the committed checkpoints: every decoder must emit
// exactly the autoregressive greedy tokens, 8 held-out prompts x 64 tokens.
// How often drafts are accepted depends on how well the checkpoints are
// trained, not on the decoders: bench/acceptance.ts measures it (the
// all-accepted and multi-node paths on the real runtime are covered by
// runtime_decoders_test.ts with a twin draft and oracle heads).
const NEW = 64;
const N_PROMPTS = 8;

// Quantized models too: losslessness is relative to the target at its own precision.
for (const [pair, weights] of TINY_PAIRS.flatMap((p) => PRECISIONS.map((w) => [p, w] as const))) {
  const present = hasCheckpoint(pair.target) && hasCheckpoint(pair.draft);
  Deno.test({
    name:
      `greedy: decoders reproduce autoregressive on ${pair.target} at ${weights} (${N_PROMPTS} prompts x ${NEW})`,
    ignore: !present,
    fn: async (t) => {
      const tokenizer = await loadTokenizer(pair.target);
      const prompts = heldOutPrompts().slice(0, N_PROMPTS).map((p) => tokenizer.encode(p));
      assert.equal(prompts.length, N_PROMPTS);
      const maxLength = Math.max(...prompts.map((p) => p.length)) + NEW + 80;
      using target = await loadModel(pair.target, maxLength, 1, weights);
      using draft = await loadDraft(pair.draft, maxLength, 1, weights);
      const ar = new AutoregressiveDecoder({
        model: target,
        tokenizer,
        config: { maxNewTokens: NEW },
      });
      const ref: number[][] = [];
      for (const p of prompts) {
        const r = await ar.generate(p);
        ref.push(r.tokens);
      }
      for (let k = 1; k <= 8; k++) {
        await t.step(`DraftTargetDecoder K=${k}`, async () => {
          const dec = new DraftTargetDecoder({
            draftModel: draft,
            targetModel: target,
            tokenizer,
            config: { numSpeculativeTokens: k, maxNewTokens: NEW },
          });
          for (let i = 0; i < prompts.length; i++) {
            const r = await dec.generate(prompts[i]!);
            assert.deepEqual(r.tokens, ref[i], `K=${k}, prompt ${i}`);
          }
        });
      }
      if (hasHeads(pair.medusa)) {
        using heads = await loadHeads(pair.medusa, 1, weights);
        for (const size of MEDUSA_TREE_SIZES) {
          await t.step(`MedusaDecoder tree of ${size} nodes`, async () => {
            const dec = new MedusaDecoder({
              baseModel: target,
              heads,
              tokenizer,
              config: { treeWidth: size, maxNewTokens: NEW },
            });
            for (let i = 0; i < prompts.length; i++) {
              const r = await dec.generate(prompts[i]!);
              assert.deepEqual(r.tokens, ref[i], `tree ${size}, prompt ${i}`);
            }
          });
        }
      }
      await t.step("PromptLookupDecoder", async () => {
        const dec = new PromptLookupDecoder({
          model: target,
          tokenizer,
          config: { maxNewTokens: NEW },
        });
        for (let i = 0; i < prompts.length; i++) {
          assert.deepEqual((await dec.generate(prompts[i]!)).tokens, ref[i], `prompt ${i}`);
        }
      });
    },
  });
}

// Sampling on a real pair: with top-k 3 the first two tokens have 9 outcomes;
// their frequencies under speculative sampling must match the target's exact
// probabilities (chi-square, significance 0.001).
for (const [pair, weights] of PRECISIONS.map((w) => [TINY_PAIRS[0]!, w] as const)) {
  const present = hasCheckpoint(pair.target) && hasCheckpoint(pair.draft);
  Deno.test({
    name:
      `sampling: draft-target and Medusa-exact first two tokens follow ${pair.target} at ${weights} (top-k 3, chi-square)`,
    ignore: !present,
    fn: async () => {
      const tokenizer = await loadTokenizer(pair.target);
      const prompt = tokenizer.encode(heldOutPrompts()[0]!).slice(0, 8); // short: many runs
      const maxLength = prompt.length + 16;
      using target = await loadModel(pair.target, maxLength, 1, weights);
      using draft = await loadDraft(pair.draft, maxLength, 1, weights);
      const sampling = { temperature: 1, topK: 3 };
      const proc = new LogitsProcessor(sampling);
      const V = target.vocabSize;
      const pre = await target.prefill(prompt);
      const p1 = proc.probs(pre.logits.subarray((prompt.length - 1) * V));
      const firsts = [...p1.keys()].filter((i) => p1[i]! > 0);
      const cells = new Map<string, number>(); // "a,b" -> exact probability
      for (const a of firsts) {
        target.rewind(prompt.length);
        const r = await target.forward([a], [prompt.length]);
        const p2 = proc.probs(r.logits);
        for (let b = 0; b < V; b++) if (p2[b]! > 0) cells.set(`${a},${b}`, p1[a]! * p2[b]!);
      }
      const keys = [...cells.keys()];
      const probs = [...keys.map((k) => cells.get(k)!), 0]; // last cell: anything else
      const RUNS = 1500;
      const check = async (dec: Decoder): Promise<void> => {
        const counts = new Array(keys.length + 1).fill(0);
        for (let seed = 0; seed < RUNS; seed++) {
          const r = await dec.generate(prompt, { seed, maxNewTokens: 3 });
          const i = keys.indexOf(`${r.tokens[0]},${r.tokens[1]}`);
          counts[i < 0 ? keys.length : i]++;
        }
        const res = chiSquareTest(counts, probs);
        assert.ok(res.pValue > 0.001, `${dec.name}: chi2 ${res.statistic}, p = ${res.pValue}`);
      };
      await check(
        new DraftTargetDecoder({
          draftModel: draft,
          targetModel: target,
          tokenizer,
          config: { ...sampling, numSpeculativeTokens: 2 },
        }),
      );
      if (hasHeads(pair.medusa)) {
        using heads = await loadHeads(pair.medusa, 1, weights);
        await check(
          new MedusaDecoder({
            baseModel: target,
            heads,
            tokenizer,
            config: { ...sampling, treeWidth: 8, acceptance: "exact" },
          }),
        );
      }
    },
  });
}
