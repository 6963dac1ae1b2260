/**
 * `deno bench -A bench/decode_bench.ts`: autoregressive vs draft-target vs
 * Medusa vs EAGLE (its default draft shape) vs prompt lookup, and draft-target
 * and EAGLE with a prompt-lookup branch of 8 tokens (`lookupTokens: 8`), on the bench checkpoints, the same held-out code
 * prompts for every method, greedy and temperature 1. One iteration = one
 * generation of `SPECDEC_BENCH_TOKENS` (default 32) tokens; the
 * autoregressive bench of each group is the baseline, so `deno bench` prints
 * each method's speedup. Skipped with a notice when the bench checkpoints are
 * absent (`SPECDEC_BENCH_TARGET`, `SPECDEC_BENCH_DRAFT` override the folders).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import {
  AutoregressiveDecoder,
  DraftTargetDecoder,
  EagleDecoder,
  MedusaDecoder,
  PromptLookupDecoder,
} from "../mod.ts";
import type { Decoder, DecodingConfig } from "../mod.ts";
import { loadModelParts } from "../cli.ts";
import type { ModelParts } from "../cli.ts";
import { readPromptFixtures } from "./report/read_prompt_fixtures.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const target = Deno.env.get("SPECDEC_BENCH_TARGET") ?? `${ROOT}/models/bench-target`;
const draft = Deno.env.get("SPECDEC_BENCH_DRAFT") ?? `${ROOT}/models/bench-draft`;
const tokens = Number(Deno.env.get("SPECDEC_BENCH_TOKENS") ?? "32");

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const ready = await exists(`${target}/config.json`) && await exists(`${draft}/config.json`);
if (!ready) {
  console.error(`decode_bench: no bench checkpoints at ${target} and ${draft}; benches skipped`);
}

let parts: ModelParts | undefined;
let prompts: number[][] = [];
if (ready) {
  const medusa = `${target}/medusa`;
  const eagle = `${target}/eagle`;
  const request = {
    model: target,
    draft,
    ...((await exists(medusa)) ? { medusa } : {}),
    ...((await exists(`${eagle}/config.json`)) ? { eagle } : {}),
  };
  parts = await loadModelParts(request, (_label, work) => work());
  const fixtures = await readPromptFixtures(
    Deno.env.get("SPECDEC_BENCH_PROMPTS") ?? `${ROOT}/tests/fixtures/prompts.json`,
  );
  const tokenizer = parts.tokenizer;
  prompts = fixtures.filter((p) => p.kind === "code").slice(0, 4).map((p) =>
    tokenizer.encode(p.text)
  );
  globalThis.addEventListener("unload", () => parts?.close?.());
}

function decoder(method: string, temperature: number): Decoder | undefined {
  if (parts === undefined) return undefined;
  const config: DecodingConfig = { temperature, maxNewTokens: tokens, seed: 7 };
  const { target: model, tokenizer } = parts;
  switch (method) {
    case "autoregressive":
      return new AutoregressiveDecoder({ model, tokenizer, config });
    case "draft-target K=5":
    case "draft-target K=5 + lookup 8":
      return parts.draft === undefined ? undefined : new DraftTargetDecoder({
        draftModel: parts.draft,
        targetModel: model,
        tokenizer,
        config: {
          ...config,
          numSpeculativeTokens: 5,
          ...(method.endsWith("+ lookup 8") ? { lookupTokens: 8 } : {}),
        },
      });
    case "medusa 8-node tree":
      return parts.heads === undefined ? undefined : new MedusaDecoder({
        baseModel: model,
        heads: parts.heads,
        tokenizer,
        config: { ...config, treeWidth: 8 },
      });
    case "eagle (default shape)":
    case "eagle (default shape) + lookup 8":
      return parts.eagle === undefined ? undefined : new EagleDecoder({
        targetModel: model,
        head: parts.eagle,
        tokenizer,
        config: method.endsWith("+ lookup 8") ? { ...config, lookupTokens: 8 } : config,
      });
    case "prompt lookup K=5":
      return new PromptLookupDecoder({
        model,
        tokenizer,
        config: { ...config, numSpeculativeTokens: 5 },
      });
  }
  return undefined;
}

for (const temperature of [0, 1]) {
  const group = temperature === 0 ? "greedy" : "temperature 1";
  for (
    const method of [
      "autoregressive",
      "draft-target K=5",
      "draft-target K=5 + lookup 8",
      "medusa 8-node tree",
      "eagle (default shape)",
      "eagle (default shape) + lookup 8",
      "prompt lookup K=5",
    ]
  ) {
    const dec = decoder(method, temperature);
    let i = 0;
    Deno.bench({
      name: `${method} (${group}, ${tokens} tokens)`,
      group,
      baseline: method === "autoregressive",
      ignore: dec === undefined,
      n: 2 * Math.max(1, prompts.length),
      warmup: 1,
      async fn(): Promise<void> {
        const prompt = prompts[i++ % prompts.length]!;
        await dec!.generate(prompt);
      },
    });
  }
}
