/**
 * EAGLE sweeps: chains of K and EAGLE-2 trees of N nodes over the same
 * prompts, each run checked against autoregressive greedy output, with
 * acceptance per draft position. `runEagleSweep` is what a report calls (it
 * sees only the model interfaces); run as a script it measures the bench
 * pair:
 *
 * ```sh
 * npx -y deno@2.9.6 run -A bench/eagle_sweep.ts [--prompts 8] [--max-new-tokens 128] \
 *   [--chains 1,2,3,4,5,6] [--trees 4,8,12,16,24,32] [--repeats 2] [--threads N] \
 *   [--head-threads N] [--shapes N:depth:topk:expand,...] [--json results/eagle_sweep.json]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import {
  AutoregressiveDecoder,
  CausalLM,
  EagleDecoder,
  EagleHeads,
  eagleTreeShape,
  Tokenizer,
} from "../mod.ts";
import type {
  DecodeMetrics,
  EagleConfig,
  FeatureDrafter,
  LanguageModel,
  TextTokenizer,
} from "../mod.ts";
import { readPromptFixtures } from "./report/read_prompt_fixtures.ts";

/** One EAGLE draft shape of a sweep. */
export interface EagleSweepConfig {
  /** Label, e.g. `eagle chain K=3` or `eagle tree 16 (d5 k4 e3)`. */
  label: string;
  /** The decoder config (draft shape only; sampling comes from the sweep). */
  config: EagleConfig;
}

/** Options of {@linkcode runEagleSweep}. */
export interface EagleSweepOptions {
  /** The target. */
  target: LanguageModel;
  /** Its EAGLE head. */
  head: FeatureDrafter;
  /** Shared tokenizer. */
  tokenizer: TextTokenizer;
  /** Prompts as token ids. */
  prompts: number[][];
  /** New tokens per generation. */
  maxNewTokens: number;
  /** Draft shapes (default {@linkcode defaultEagleSweep}). */
  configs?: EagleSweepConfig[];
  /** Temperature (default 0, greedy; then every run is checked against autoregressive). */
  temperature?: number;
  /** Generations per (shape, prompt); the fastest is kept (default 1). */
  repeats?: number;
  /** Autoregressive tokens per prompt, when already measured (else measured here when greedy). */
  reference?: number[][];
  /** Progress callback. */
  onRun?: (label: string) => void;
}

/** One shape's totals over the prompts. */
export interface EagleSweepRow {
  /** The shape's label. */
  label: string;
  /** The shape. */
  config: EagleConfig;
  /** New tokens over all prompts. */
  newTokens: number;
  /** Wall time over all prompts (fastest repeat per prompt), ms. */
  wallTimeMs: number;
  /** `newTokens / wallTimeMs * 1000`. */
  tokensPerSecond: number;
  /** Accepted / drafted positions. */
  acceptanceRate: number;
  /** τ: tokens per target step. */
  meanAcceptedLength: number;
  /** Target verification steps. */
  steps: number;
  /** Mean tree size (nodes fed to the target per step, root included). */
  meanVerifiedTokens: number;
  /** Mean head forwards per step (correction + expansions). */
  headForwardsPerStep: number;
  /** Mean target step / head forward time, ms. */
  targetStepMs: number;
  /** Mean head forward time, ms. */
  headStepMs: number;
  /** `acceptedPerPosition[i] / draftedPerPosition[i]`: acceptance at draft position i + 1. */
  acceptancePerPosition: number[];
  /** Greedy: every prompt's tokens equal the autoregressive ones (`undefined` when sampling). */
  lossless: boolean | undefined;
  /** Per-prompt tokens (for a report's own equality check). */
  tokens: number[][];
}

/**
 * The EAGLE-2 shapes the project measures: chains K = 1..6 and trees of 4..32 nodes in the
 * shape {@linkcode eagleTreeShape} gives each size.
 *
 * @param chains Chain lengths.
 * @param trees Tree sizes in draft nodes.
 * @returns The sweep's shapes.
 */
export function defaultEagleSweep(
  chains: number[] = [1, 2, 3, 4, 5, 6],
  trees: number[] = [4, 8, 12, 16, 24, 32],
): EagleSweepConfig[] {
  const out: EagleSweepConfig[] = chains.map((k) => ({
    label: `eagle chain K=${k}`,
    config: { treeNodes: 0, numSpeculativeTokens: k },
  }));
  for (const n of trees) {
    const s = eagleTreeShape(n);
    out.push({
      label: `eagle tree ${n} (d${s.numSpeculativeTokens} k${s.branching} e${s.expandPerDepth})`,
      config: s,
    });
  }
  return out;
}

/**
 * Runs every shape over every prompt and totals the metrics per shape.
 *
 * @param o Models, prompts, shapes and repeats.
 * @returns One row per shape, in order.
 */
export async function runEagleSweep(o: EagleSweepOptions): Promise<EagleSweepRow[]> {
  const temperature = o.temperature ?? 0;
  const repeats = o.repeats ?? 1;
  let reference = o.reference;
  if (reference === undefined && temperature === 0) {
    const ar = new AutoregressiveDecoder({
      model: o.target,
      tokenizer: o.tokenizer,
      config: { maxNewTokens: o.maxNewTokens },
    });
    reference = [];
    for (const p of o.prompts) reference.push((await ar.generate(p)).tokens);
  }
  const rows: EagleSweepRow[] = [];
  for (const { label, config } of o.configs ?? defaultEagleSweep()) {
    o.onRun?.(label);
    const dec = new EagleDecoder({
      targetModel: o.target,
      head: o.head,
      tokenizer: o.tokenizer,
      config: { ...config, temperature, maxNewTokens: o.maxNewTokens, seed: 7 },
    });
    const runs: DecodeMetrics[] = [];
    const tokens: number[][] = [];
    for (const p of o.prompts) {
      let best: { m: DecodeMetrics; t: number[] } | undefined;
      for (let r = 0; r < repeats; r++) {
        const g = await dec.generate(p);
        if (best === undefined || g.metrics.wallTimeMs < best.m.wallTimeMs) {
          best = { m: g.metrics, t: g.tokens };
        }
      }
      runs.push(best!.m);
      tokens.push(best!.t);
    }
    rows.push(totals(label, config, runs, tokens, temperature === 0 ? reference : undefined));
  }
  return rows;
}

function totals(
  label: string,
  config: EagleConfig,
  runs: DecodeMetrics[],
  tokens: number[][],
  reference: number[][] | undefined,
): EagleSweepRow {
  const sum = (f: (m: DecodeMetrics) => number): number => runs.reduce((a, m) => a + f(m), 0);
  const steps = sum((m) => m.steps);
  const drafted = sum((m) => m.drafted);
  const accepted = sum((m) => m.accepted);
  const wall = sum((m) => m.wallTimeMs);
  const newTokens = sum((m) => m.newTokens);
  const headCalls = sum((m) => m.draftForwards);
  const width = Math.max(...runs.map((m) => m.draftedPerPosition.length));
  const perPos: number[] = [];
  for (let i = 0; i < width; i++) {
    const d = sum((m) => m.draftedPerPosition[i] ?? 0);
    perPos.push(d > 0 ? sum((m) => m.acceptedPerPosition[i] ?? 0) / d : 0);
  }
  return {
    label,
    config,
    newTokens,
    wallTimeMs: wall,
    tokensPerSecond: newTokens / wall * 1000,
    acceptanceRate: drafted > 0 ? accepted / drafted : 0,
    meanAcceptedLength: steps > 0 ? (accepted + steps) / steps : 1,
    steps,
    meanVerifiedTokens: steps > 0 ? sum((m) => m.verifiedTokens) / steps : 0,
    headForwardsPerStep: steps > 0 ? headCalls / steps : 0,
    targetStepMs: steps > 0 ? sum((m) => m.targetStepMs * m.steps) / steps : 0,
    headStepMs: headCalls > 0 ? sum((m) => m.draftStepMs * m.draftForwards) / headCalls : 0,
    acceptancePerPosition: perPos,
    lossless: reference === undefined
      ? undefined
      : tokens.every((t, i) => t.join() === reference[i]!.join()),
    tokens,
  };
}

if (import.meta.main) {
  const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      target: { type: "string", default: `${ROOT}/models/bench-target` },
      eagle: { type: "string" },
      prompts: { type: "string", default: "8" },
      "max-new-tokens": { type: "string", default: "128" },
      chains: { type: "string", default: "1,2,3,4,5,6" },
      trees: { type: "string", default: "4,8,12,16,24,32" },
      repeats: { type: "string", default: "1" },
      threads: { type: "string" },
      "head-threads": { type: "string" },
      shapes: { type: "string", default: "" },
      json: { type: "string" },
    },
  });
  const nums = (s: string): number[] => s === "" ? [] : s.split(",").map(Number);
  const targetDir = values.target;
  const eagleDir = values.eagle ?? `${targetDir}/eagle`;
  const maxNew = Number(values["max-new-tokens"]);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  const headThreads = values["head-threads"] === undefined
    ? threads
    : Number(values["head-threads"]);
  const tokenizer = await Tokenizer.load(targetDir);
  const fixtures = await readPromptFixtures(`${ROOT}/tests/fixtures/prompts.json`);
  const prompts = fixtures.filter((p) => p.kind === "code").slice(0, Number(values.prompts))
    .map((p) => tokenizer.encode(p.text));
  const maxLength = Math.max(...prompts.map((p) => p.length)) + maxNew + 40;
  const spinning = headThreads === 1;
  using target = await CausalLM.load(targetDir, {
    maxLength,
    spinning,
    ...(threads !== undefined ? { threads } : {}),
  });
  using head = await EagleHeads.load(eagleDir, {
    base: targetDir,
    maxLength: maxLength + 64,
    ...(headThreads !== undefined ? { threads: headThreads } : {}),
  });
  const ar = new AutoregressiveDecoder({
    model: target,
    tokenizer,
    config: { maxNewTokens: maxNew },
  });
  const reference: number[][] = [];
  let arMs = 0;
  let arTokens = 0;
  for (const p of prompts) {
    await ar.generate(p, { maxNewTokens: 4 }); // warm-up
    const r = await ar.generate(p);
    reference.push(r.tokens);
    arMs += r.metrics.wallTimeMs;
    arTokens += r.metrics.newTokens;
  }
  const arTps = arTokens / arMs * 1000;
  console.log(
    `${prompts.length} held-out code prompts x ${maxNew} tokens, greedy; load ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    }; autoregressive ${arTps.toFixed(1)} tok/s`,
  );
  const rows = await runEagleSweep({
    target,
    head,
    tokenizer,
    prompts,
    maxNewTokens: maxNew,
    configs: [
      ...defaultEagleSweep(nums(values.chains), nums(values.trees)),
      ...values.shapes.split(",").filter((x) => x !== "").map((x) => {
        const [n, d, k, e] = x.split(":").map(Number);
        return {
          label: `eagle tree ${n} (d${d} k${k} e${e})`,
          config: { treeNodes: n!, numSpeculativeTokens: d!, branching: k!, expandPerDepth: e! },
        };
      }),
    ],
    repeats: Number(values.repeats),
    reference,
  });
  for (const r of rows) {
    console.log(
      [
        r.label.padEnd(28),
        `${r.tokensPerSecond.toFixed(1)} tok/s`.padStart(12),
        `${(r.tokensPerSecond / arTps).toFixed(2)}x`.padStart(7),
        `acc ${r.acceptanceRate.toFixed(3)}`,
        `tau ${r.meanAcceptedLength.toFixed(2)}`,
        `nodes ${r.meanVerifiedTokens.toFixed(1)}`,
        `head/step ${r.headForwardsPerStep.toFixed(1)}`,
        `target ${r.targetStepMs.toFixed(2)}ms head ${r.headStepMs.toFixed(2)}ms`,
        `pos ${r.acceptancePerPosition.map((x) => x.toFixed(2)).join(" ")}`,
        r.lossless ? "lossless" : "DIFFERS",
      ].join("  "),
    );
  }
  console.log(`load ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  if (values.json !== undefined) {
    await Deno.writeTextFile(
      values.json,
      JSON.stringify(
        {
          autoregressiveTokensPerSecond: arTps,
          rows: rows.map(({ tokens: _t, ...r }) => r),
        },
        null,
        1,
      ) + "\n",
    );
  }
}
