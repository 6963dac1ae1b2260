import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import { EagleDecoder } from "../../lib/decoding/eagle.ts";
import { MedusaDecoder } from "../../lib/decoding/medusa.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { EagleHeads } from "../../lib/model/eagle_heads.ts";
import { MedusaHeads } from "../../lib/model/medusa_heads.ts";
import { Tokenizer } from "../../lib/model/tokenizer.ts";

// Tree verification at q8/q4 on the bench pair: every tree node's logits must equal what the
// same token gets in a chain, or a near-tie flips a token. With GroupQueryAttention the softmax
// lanes follow the KV slot and int8 activations amplify the last bit (before the TreeAttention
// CPU kernel became the quantized default, Medusa at q4 left autoregressive on the
// encodings/punycode.py prompt at token 32). The held-out code prompts, 64 tokens each.
const ROOT = new URL("../../", import.meta.url).pathname;
const TARGET = `${ROOT}models/bench-target`;
const NEW = 64;
const present = (() => {
  try {
    return Deno.statSync(`${TARGET}/model.safetensors`).isFile;
  } catch {
    return false;
  }
})();

for (const weights of ["q4", "q8"] as const) {
  Deno.test({
    name: `greedy: Medusa and EAGLE trees reproduce autoregressive on bench-target at ${weights}`,
    ignore: !present,
    fn: async (t) => {
      const prompts = JSON.parse(await Deno.readTextFile(`${ROOT}tests/fixtures/prompts.json`))
        .prompts.filter((p: { kind: string }) => p.kind === "code")
        .map((p: { text: string }) => p.text) as string[];
      assert.equal(prompts.length, 8);
      using target = await CausalLM.load(TARGET, { maxLength: 512, threads: 2, weights });
      assert.equal(target.attention, "tree");
      const tokenizer = await Tokenizer.load(TARGET);
      const ar = new AutoregressiveDecoder({
        model: target,
        tokenizer,
        config: { maxNewTokens: NEW },
      });
      const ref: number[][] = [];
      for (const p of prompts) ref.push((await ar.generate(p)).tokens);
      using heads = await MedusaHeads.load(`${TARGET}/medusa`, { threads: 1, weights });
      for (const size of [4, 16]) {
        await t.step(`Medusa, ${size}-node tree`, async () => {
          const dec = new MedusaDecoder({
            baseModel: target,
            heads,
            tokenizer,
            config: { treeWidth: size, maxNewTokens: NEW },
          });
          for (let i = 0; i < prompts.length; i++) {
            assert.deepEqual((await dec.generate(prompts[i]!)).tokens, ref[i], `prompt ${i}`);
          }
        });
      }
      using head = await EagleHeads.load(`${TARGET}/eagle`, { threads: 1, weights });
      // as the CLI loads it: int8 activations (packed kernels where they run)
      using fast = await EagleHeads.load(`${TARGET}/eagle`, {
        threads: 1,
        weights,
        activations: "int8",
      });
      for (const [label, h] of [["", head], [", int8-activation head", fast]] as const) {
        await t.step(`EAGLE, 8-node dynamic tree${label}`, async () => {
          const dec = new EagleDecoder({
            targetModel: target,
            head: h,
            tokenizer,
            config: { treeNodes: 8, maxNewTokens: NEW },
          });
          for (let i = 0; i < prompts.length; i++) {
            assert.deepEqual((await dec.generate(prompts[i]!)).tokens, ref[i], `prompt ${i}`);
          }
        });
      }
    },
  });
}
