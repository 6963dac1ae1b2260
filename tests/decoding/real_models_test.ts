import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import { DraftTargetDecoder } from "../../lib/decoding/draft_target.ts";
import { PromptLookupDecoder } from "../../lib/decoding/prompt_lookup.ts";
import {
  hasCheckpoint,
  heldOutPrompts,
  loadModel,
  loadTokenizer,
  TINY_PAIRS,
} from "./_real_models.ts";

// Greedy losslessness on the committed checkpoints: every decoder must emit
// exactly the autoregressive greedy tokens, 8 held-out prompts x 64 tokens.
const NEW = 64;
const N_PROMPTS = 8;

for (const pair of TINY_PAIRS) {
  const present = hasCheckpoint(pair.target) && hasCheckpoint(pair.draft);
  Deno.test({
    name:
      `greedy: decoders reproduce autoregressive on ${pair.target} (${N_PROMPTS} prompts x ${NEW})`,
    ignore: !present,
    fn: async (t) => {
      const tokenizer = await loadTokenizer(pair.target);
      const prompts = heldOutPrompts().slice(0, N_PROMPTS).map((p) => tokenizer.encode(p));
      assert.equal(prompts.length, N_PROMPTS);
      const maxLength = Math.max(...prompts.map((p) => p.length)) + NEW + 80;
      using target = await loadModel(pair.target, maxLength);
      using draft = await loadModel(pair.draft, maxLength);
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
      let accepted = 0;
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
            accepted += r.metrics.accepted;
          }
        });
      }
      assert.ok(accepted > 0, "a trained draft agrees with its target sometimes");
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
