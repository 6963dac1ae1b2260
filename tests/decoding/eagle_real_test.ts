import assert from "node:assert/strict";
import { AutoregressiveDecoder } from "../../lib/decoding/autoregressive.ts";
import { type EagleConfig, EagleDecoder } from "../../lib/decoding/eagle.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { EagleHeads } from "../../lib/model/eagle_heads.ts";
import { Tokenizer } from "../../lib/model/tokenizer.ts";
import { oneLayerTwins } from "../model/_eagle_fixture.ts";
import { hasCheckpoint, heldOutPrompts, ROOT } from "./_real_models.ts";

// EagleDecoder on the real runtime (ONNX Runtime sessions, in-place KV, tree
// masks, keep()): greedy output equals autoregressive on tiny-target with its
// committed random-weight EAGLE head, and on a one-layer twin of tiny-target
// whose head is the same layer (an oracle: nearly every draft is accepted, so
// the accepted-path and compaction code runs on every step).
const NEW = 64;
const N_PROMPTS = 8;

const SHAPES: Array<[string, EagleConfig]> = [
  ...[1, 2, 3, 4, 5, 6].map((k): [string, EagleConfig] => [`chain K=${k}`, {
    treeNodes: 0,
    numSpeculativeTokens: k,
  }]),
  ["tree of 4 nodes", { treeNodes: 4, branching: 2, numSpeculativeTokens: 3 }],
  ["tree of 8 nodes", { treeNodes: 8, branching: 4, numSpeculativeTokens: 4 }],
  ["tree of 16 nodes", { treeNodes: 16, branching: 4, numSpeculativeTokens: 5 }],
  ["tree of 32 nodes", { treeNodes: 32, branching: 6, expandPerDepth: 4, numSpeculativeTokens: 6 }],
];

async function check(
  t: Deno.TestContext,
  targetDir: string,
  headDir: string,
  minAcceptance: number,
): Promise<void> {
  const tokenizer = await Tokenizer.load(`${ROOT}models/tiny-target`);
  const prompts = heldOutPrompts().slice(0, N_PROMPTS).map((p) => tokenizer.encode(p));
  const maxLength = Math.max(...prompts.map((p) => p.length)) + NEW + 40;
  using target = await CausalLM.load(targetDir, { maxLength, threads: 1 });
  using head = await EagleHeads.load(headDir, { maxLength: maxLength + 40, threads: 1 });
  const ar = new AutoregressiveDecoder({ model: target, tokenizer, config: { maxNewTokens: NEW } });
  const ref: number[][] = [];
  for (const p of prompts) ref.push((await ar.generate(p)).tokens);
  for (const [label, config] of SHAPES) {
    await t.step(label, async () => {
      const dec = new EagleDecoder({
        targetModel: target,
        head,
        tokenizer,
        config: { ...config, maxNewTokens: NEW },
      });
      let drafted = 0;
      let accepted = 0;
      for (let i = 0; i < prompts.length; i++) {
        const r = await dec.generate(prompts[i]!);
        assert.deepEqual(r.tokens, ref[i], `${label}, prompt ${i}`);
        drafted += r.metrics.drafted;
        accepted += r.metrics.accepted;
      }
      assert.ok(
        accepted >= minAcceptance * drafted,
        `${label}: ${accepted} of ${drafted} drafts accepted`,
      );
    });
  }
}

Deno.test({
  name:
    `greedy: EagleDecoder reproduces autoregressive on tiny-target with its random EAGLE head (${N_PROMPTS} prompts x ${NEW})`,
  ignore: !hasCheckpoint("models/tiny-target/eagle"),
  fn: (t) => check(t, `${ROOT}models/tiny-target`, `${ROOT}models/tiny-target/eagle`, 0),
});

Deno.test({
  name:
    "greedy: EagleDecoder with an oracle head (one-layer twin) reproduces autoregressive and accepts most drafts",
  ignore: !hasCheckpoint("models/tiny-target"),
  fn: async (t) => {
    const twins = await oneLayerTwins(`${ROOT}models/tiny-target`);
    try {
      await check(t, twins.base, twins.head, 0.75);
    } finally {
      await Deno.remove(twins.dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "greedy: quantized EAGLE heads (q8, q4) stay lossless; the q8 oracle twin still accepts most drafts",
  ignore: !hasCheckpoint("models/tiny-target"),
  fn: async () => {
    const twins = await oneLayerTwins(`${ROOT}models/tiny-target`);
    try {
      const tokenizer = await Tokenizer.load(`${ROOT}models/tiny-target`);
      const prompts = heldOutPrompts().slice(0, 3).map((p) => tokenizer.encode(p));
      const maxLength = Math.max(...prompts.map((p) => p.length)) + NEW + 40;
      using target = await CausalLM.load(twins.base, { maxLength, threads: 1 });
      const ar = new AutoregressiveDecoder({
        model: target,
        tokenizer,
        config: { maxNewTokens: NEW },
      });
      const ref: number[][] = [];
      for (const p of prompts) ref.push((await ar.generate(p)).tokens);
      for (const weights of ["q8", "q4"] as const) {
        using head = await EagleHeads.load(twins.head, {
          maxLength: maxLength + 40,
          threads: 1,
          weights,
        });
        const dec = new EagleDecoder({
          targetModel: target,
          head,
          tokenizer,
          config: { treeNodes: 8, maxNewTokens: NEW },
        });
        let drafted = 0;
        let accepted = 0;
        for (let i = 0; i < prompts.length; i++) {
          const r = await dec.generate(prompts[i]!);
          assert.deepEqual(r.tokens, ref[i], `${weights}, prompt ${i}`);
          drafted += r.metrics.drafted;
          accepted += r.metrics.accepted;
        }
        if (weights === "q8") {
          assert.ok(accepted >= 0.6 * drafted, `q8: ${accepted} of ${drafted} accepted`);
        }
      }
    } finally {
      await Deno.remove(twins.dir, { recursive: true });
    }
  },
});
