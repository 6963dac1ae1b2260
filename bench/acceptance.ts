/**
 * `deno task bench:acceptance`: greedy acceptance rate and τ (mean tokens per
 * target step) of every decoder on held-out prompts from
 * `tests/fixtures/prompts.json`, on the bench checkpoints (falls back to the
 * tiny ones, with a notice, when the bench checkpoints are missing). Every
 * run is checked against autoregressive greedy output; tokens/s and speedup
 * are measured against the autoregressive run of the same prompts.
 *
 * Options: `--prompts N` (default 8), `--max-new-tokens N` (64), `--threads N`
 * (1), `--k 1,2,4,8` (draft lengths), `--trees 4,8,16,64` (Medusa tree sizes),
 * `--eagle-k 2,3,4` (EAGLE chain lengths), `--eagle-trees 4,8,16` (EAGLE-2 tree sizes),
 * `--json FILE` (also write the rows as JSON).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  AutoregressiveDecoder,
  CausalLM,
  DraftTargetDecoder,
  EagleDecoder,
  EagleHeads,
  MedusaDecoder,
  MedusaHeads,
  PromptLookupDecoder,
  Tokenizer,
} from "../mod.ts";
import type { Decoder, SpeculativeDecodingConfig } from "../mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** One measured row. */
interface Row {
  family: string;
  decoder: string;
  acceptanceRate: number;
  tau: number;
  tokensPerSecond: number;
  speedup: number;
  c: number | null;
  lossless: boolean;
}

interface ModelSet {
  family: string;
  target: string;
  draft: string;
  medusa: string;
  eagle?: string;
}

const BENCH: ModelSet = {
  family: "llama (bench)",
  target: "models/bench-target",
  draft: "models/bench-draft",
  medusa: "models/bench-target/medusa",
  eagle: "models/bench-target/eagle",
};
const TINY: ModelSet[] = [
  {
    family: "llama (tiny)",
    target: "models/tiny-target",
    draft: "models/tiny-draft",
    medusa: "models/tiny-target/medusa",
    eagle: "models/tiny-target/eagle",
  },
  {
    family: "gpt2 (tiny)",
    target: "models/tiny-gpt2-target",
    draft: "models/tiny-gpt2-draft",
    medusa: "models/tiny-gpt2-target/medusa",
  },
];

function exists(path: string): boolean {
  try {
    Deno.statSync(`${ROOT}${path}`);
    return true;
  } catch {
    return false;
  }
}

function list(s: string): number[] {
  return s.split(",").map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`bad list entry ${x}`);
    return n;
  });
}

/** Runs a decoder over all prompts; totals its metrics. */
async function measure(
  dec: Decoder,
  prompts: number[][],
  maxNewTokens: number,
): Promise<
  {
    tokens: number[][];
    drafted: number;
    accepted: number;
    steps: number;
    newTokens: number;
    ms: number;
    c: number | null;
  }
> {
  const tokens: number[][] = [];
  let drafted = 0, accepted = 0, steps = 0, newTokens = 0, ms = 0, cSum = 0, cN = 0;
  for (const p of prompts) {
    const r = await dec.generate(p, { maxNewTokens });
    tokens.push(r.tokens);
    drafted += r.metrics.drafted;
    accepted += r.metrics.accepted;
    steps += r.metrics.steps;
    newTokens += r.metrics.newTokens;
    ms += r.metrics.wallTimeMs;
    if (r.metrics.c !== undefined) {
      cSum += r.metrics.c;
      cN++;
    }
  }
  return { tokens, drafted, accepted, steps, newTokens, ms, c: cN > 0 ? cSum / cN : null };
}

async function runSet(
  set: ModelSet,
  opts: {
    prompts: number;
    maxNew: number;
    threads: number;
    ks: number[];
    trees: number[];
    eagleKs: number[];
    eagleTrees: number[];
  },
): Promise<Row[]> {
  const tokenizer = await Tokenizer.load(`${ROOT}${set.target}`);
  const json = JSON.parse(await Deno.readTextFile(`${ROOT}tests/fixtures/prompts.json`)) as {
    prompts: Array<{ kind: string; text: string }>;
  };
  const texts = json.prompts.filter((p) => p.kind === "code").map((p) => p.text).slice(
    -opts.prompts,
  );
  const prompts = texts.map((t) => tokenizer.encode(t));
  const maxLength = Math.max(...prompts.map((p) => p.length)) + opts.maxNew + 80;
  using target = await CausalLM.load(`${ROOT}${set.target}`, { maxLength, threads: opts.threads });
  using draft = await CausalLM.load(`${ROOT}${set.draft}`, { maxLength, threads: opts.threads });
  const rows: Row[] = [];
  const ar = await measure(
    new AutoregressiveDecoder({ model: target, tokenizer }),
    prompts,
    opts.maxNew,
  );
  const arTps = ar.newTokens / ar.ms * 1000;
  const add = (name: string, m: Awaited<ReturnType<typeof measure>>): void => {
    const tps = m.newTokens / m.ms * 1000;
    const row: Row = {
      family: set.family,
      decoder: name,
      acceptanceRate: m.drafted > 0 ? m.accepted / m.drafted : 0,
      tau: m.steps > 0 ? (m.accepted + m.steps) / m.steps : 0,
      tokensPerSecond: tps,
      speedup: tps / arTps,
      c: m.c,
      lossless: m.tokens.every((t, i) => t.join() === ar.tokens[i]!.join()),
    };
    rows.push(row);
    console.log(
      [
        row.family.padEnd(14),
        row.decoder.padEnd(32),
        row.acceptanceRate.toFixed(3).padStart(8),
        row.tau.toFixed(2).padStart(6),
        row.tokensPerSecond.toFixed(0).padStart(8),
        `${row.speedup.toFixed(2)}x`.padStart(8),
        (row.c === null ? "-" : row.c.toFixed(3)).padStart(7),
        row.lossless ? "yes" : "NO",
      ].join(" "),
    );
  };
  add("autoregressive", ar);
  const draftTarget = (config: SpeculativeDecodingConfig): DraftTargetDecoder =>
    new DraftTargetDecoder({ draftModel: draft, targetModel: target, tokenizer, config });
  for (const k of opts.ks) {
    const dec = draftTarget({ numSpeculativeTokens: k });
    add(`draft-target K=${k}`, await measure(dec, prompts, opts.maxNew));
  }
  const heur = draftTarget({ numSpeculativeTokens: 4, schedule: "heuristic" });
  add("draft-target heuristic K", await measure(heur, prompts, opts.maxNew));
  const conf = draftTarget({ numSpeculativeTokens: 8, confidenceThreshold: 0.4 });
  add("draft-target K=8 conf 0.4", await measure(conf, prompts, opts.maxNew));
  // the prompt-lookup branch: copied tokens join each step's draft (lib/decoding/lookup_branch.ts)
  const branch = draftTarget({ numSpeculativeTokens: 4, lookupTokens: 16 });
  add("draft-target K=4 + lookup 16", await measure(branch, prompts, opts.maxNew));
  if (exists(`${set.medusa}/model.safetensors`)) {
    using heads = await MedusaHeads.load(`${ROOT}${set.medusa}`, { threads: opts.threads });
    for (const size of opts.trees) {
      const dec = new MedusaDecoder({
        baseModel: target,
        heads,
        tokenizer,
        config: { treeWidth: size },
      });
      add(`medusa ${size}-node tree`, await measure(dec, prompts, opts.maxNew));
    }
    const withBranch = new MedusaDecoder({
      baseModel: target,
      heads,
      tokenizer,
      config: { treeWidth: 8, lookupTokens: 16 },
    });
    add("medusa 8-node tree + lookup 16", await measure(withBranch, prompts, opts.maxNew));
  } else {
    console.log(`notice: ${set.medusa} missing; Medusa skipped`);
  }
  if (set.eagle !== undefined && exists(`${set.eagle}/model.safetensors`)) {
    using head = await EagleHeads.load(`${ROOT}${set.eagle}`, {
      threads: opts.threads,
      maxLength: maxLength + 64,
    });
    const shapes = [
      ...opts.eagleKs.map((k) => ({ name: `eagle chain K=${k}`, treeNodes: 0, k })),
      ...opts.eagleTrees.map((n) => ({ name: `eagle ${n}-node tree`, treeNodes: n, k: 0 })),
      { name: "eagle chain K=3 + lookup 16", treeNodes: 0, k: 3, lookup: 16 },
    ];
    for (const s of shapes) {
      const dec = new EagleDecoder({
        targetModel: target,
        head,
        tokenizer,
        config: {
          treeNodes: s.treeNodes,
          ...(s.k > 0 ? { numSpeculativeTokens: s.k } : {}),
          ...("lookup" in s ? { lookupTokens: s.lookup } : {}),
        },
      });
      add(s.name, await measure(dec, prompts, opts.maxNew));
    }
  } else if (set.eagle !== undefined) {
    console.log(`notice: ${set.eagle} missing; EAGLE skipped`);
  }
  add(
    "prompt-lookup K=10",
    await measure(new PromptLookupDecoder({ model: target, tokenizer }), prompts, opts.maxNew),
  );
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      prompts: { type: "string", default: "8" },
      "max-new-tokens": { type: "string", default: "64" },
      threads: { type: "string", default: "1" },
      k: { type: "string", default: "1,2,4,8" },
      trees: { type: "string", default: "4,8,16,64" },
      "eagle-k": { type: "string", default: "2,3,4" },
      "eagle-trees": { type: "string", default: "4,8,16" },
      json: { type: "string" },
    },
  });
  const opts = {
    prompts: list(values.prompts)[0]!,
    maxNew: list(values["max-new-tokens"])[0]!,
    threads: list(values.threads)[0]!,
    ks: list(values.k),
    trees: list(values.trees),
    eagleKs: list(values["eagle-k"]),
    eagleTrees: list(values["eagle-trees"]),
  };
  let sets: ModelSet[];
  if (exists(`${BENCH.target}/model.safetensors`) && exists(`${BENCH.draft}/model.safetensors`)) {
    sets = [BENCH, TINY[1]!];
  } else {
    console.log(
      "notice: bench checkpoints (models/bench-target, models/bench-draft) missing; using the tiny ones",
    );
    sets = TINY;
  }
  console.log(
    `greedy, ${opts.prompts} held-out code prompts x ${opts.maxNew} new tokens, ${opts.threads} thread(s)`,
  );
  console.log(
    [
      "family".padEnd(14),
      "decoder".padEnd(32),
      "accept".padStart(8),
      "tau".padStart(6),
      "tok/s".padStart(8),
      "speedup".padStart(8),
      "c".padStart(7),
      "lossless",
    ].join(" "),
  );
  const rows: Row[] = [];
  for (const set of sets) {
    if (!exists(`${set.target}/model.safetensors`) || !exists(`${set.draft}/model.safetensors`)) {
      console.log(`notice: ${set.target} or ${set.draft} missing; skipped`);
      continue;
    }
    rows.push(...await runSet(set, opts));
  }
  if (values.json !== undefined) {
    await Deno.writeTextFile(values.json, JSON.stringify(rows, null, 1) + "\n");
  }
}
