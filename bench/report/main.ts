/**
 * `deno task bench:report [--quick]`: measures autoregressive, draft-target,
 * Medusa, prompt-lookup and EAGLE decoding on the bench checkpoints over a
 * fixed prompt set, at f32, q8 and q4 weights, runs Hugging Face
 * transformers on the same checkpoints and prompt ids, and writes
 * `results/benchmark_results.json`, `results/REPORT.md`,
 * `results/speedup.svg` and `results/acceptance.svg`.
 *
 * Options (see `options.ts`): `--quick` (fewer prompts, tokens and sweep
 * points), `--out DIR` (default `results`), `--target DIR`, `--draft DIR`,
 * `--medusa DIR`, `--eagle DIR` (default the bench checkpoints; heads are
 * skipped when absent), `--threads N`, `--max-new-tokens N`, `--no-peers`,
 * `--repeats N` (generations per run, fastest kept; default 2, quick 1),
 * `--weights f32,q8,q4` (precisions of the weight-precision section),
 * `--no-real-scale` (skip that optional section), `--render-only` (rewrite
 * REPORT.md and the SVGs from an existing `benchmark_results.json`).
 *
 * The run, in order: the thread probe; at f32 the cost model (c, V) and
 * every method's greedy sweep on the code prompts, each drafting method's
 * best swept setting with quantized drafters, then its best so far with a
 * prompt-lookup branch (8, 16 and 32 tokens), then each method at its overall
 * best setting on the prose prompts and with sampling, and V(g) at a
 * 256-token context; at each quantized precision V(g), every method near
 * its f32 best setting, and each drafting method's best there with a lookup
 * branch of 8; the transformers peer; the optional sections
 * (`optional_sections.ts`).
 *
 * @module
 */

import { CausalLM } from "../../mod.ts";
import { ProgressBar, type StageRunner } from "../../cli.ts";
import { bestSetting } from "./best_setting.ts";
import type { BenchConfig, BenchPrompt } from "./bench_config.ts";
import { decodeRuns } from "./decode_runs.ts";
import { loadAverage } from "./load_average.ts";
import { type BenchModelRequest, loadBenchModels } from "./load_bench_models.ts";
import { machineInfo } from "./machine.ts";
import { measureCost, measureVerifyCurve } from "./measure_cost.ts";
import { OPTIONAL_SECTIONS, type SectionContext } from "./optional_sections.ts";
import { parseReportOptions, ROOT } from "./options.ts";
import { runPeers } from "./peers.ts";
import {
  contextIds,
  PRECISION_CONTEXT_TOKENS,
  PRECISION_MAX_VERIFY,
  precisionRuns,
} from "./precision_runs.ts";
import { readPromptFixtures } from "./read_prompt_fixtures.ts";
import { renderReport } from "./render_report.ts";
import type {
  BenchmarkResults,
  Precision,
  PrecisionCost,
  RunRecord,
  RuntimeSetting,
  SectionResult,
  ThreadProbe,
} from "./results.ts";
import {
  drafterConfigs,
  followUpConfigs,
  lookupBranchConfigs,
  type PlanSettings,
  precisionConfigs,
  precisionLookupConfigs,
  sweepConfigs,
  withBaselines,
} from "./run_plan.ts";
import { selectPrompts } from "./select_prompts.ts";
import { probeThreads } from "./thread_probe.ts";
import { writeOutputs } from "./write_outputs.ts";

/** K of the thread probe's draft-target generations. */
const PROBE_K = 5;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function rel(path: string): string {
  return path.startsWith(`${ROOT}/`) ? path.slice(ROOT.length + 1) : path;
}

/**
 * Each speculative method's best greedy setting among `runs` at one precision (default f32), as
 * plan settings: K / tree, and the drafter's precision and lookup branch when the best had them.
 */
function bestPlan(runs: RunRecord[], weights: Precision = "f32"): PlanSettings {
  const plan: PlanSettings = {};
  for (const method of ["speculative", "medusa", "lookup", "eagle"] as const) {
    const b = bestSetting({ runs }, method, { weights });
    if (b === undefined) continue;
    const f = b.filter;
    plan[method] = {
      ...(f.k !== undefined ? { k: f.k } : {}),
      ...(f.tree !== undefined ? { tree: f.tree } : {}),
      ...(f.drafterWeights !== undefined ? { drafterWeights: f.drafterWeights } : {}),
      ...(f.lookup !== undefined ? { lookup: f.lookup } : {}),
    };
  }
  return plan;
}

/** Runs the optional sections that are wired and not skipped; a failing one becomes a note. */
async function optionalSections(
  skip: string[],
  context: SectionContext,
): Promise<SectionResult[]> {
  const out: SectionResult[] = [];
  for (const section of OPTIONAL_SECTIONS) {
    if (skip.includes(section.id)) {
      await context.stderr(`notice: --no-${section.id}: the ${section.id} section is skipped\n`);
      continue;
    }
    if (section.run === undefined) continue;
    try {
      out.push(await section.run(context));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await context.stderr(`warning: the ${section.id} section failed: ${message}\n`);
      out.push({
        id: section.id,
        markdown: `## ${section.title}\n\nNot run: ${message}.`,
        json: { error: message },
      });
    }
  }
  return out;
}

async function main(): Promise<number> {
  const enc = new TextEncoder();
  const stderr = async (s: string): Promise<void> => {
    await Deno.stderr.write(enc.encode(s));
  };
  const options = parseReportOptions(Deno.args);
  if (options.renderOnly) {
    const results = JSON.parse(
      await Deno.readTextFile(`${options.out}/benchmark_results.json`),
    ) as BenchmarkResults;
    await writeOutputs(results, options.out, false);
    await stderr(`rewrote ${rel(options.out)}/REPORT.md and the SVG charts\n`);
    return 0;
  }
  for (const [flag, dir] of [["--target", options.target], ["--draft", options.draft]] as const) {
    if (!(await exists(`${dir}/config.json`))) {
      await stderr(
        `error: ${flag}: no checkpoint at ${dir} (train the bench models or pass ${flag} DIR)\n`,
      );
      return 1;
    }
  }
  const hasHeads = await exists(options.medusa);
  if (!hasHeads) {
    await stderr(`notice: no Medusa heads at ${options.medusa}; Medusa rows are skipped\n`);
  }
  const hasEagle = await exists(`${options.eagle}/config.json`);
  if (!hasEagle) {
    await stderr(`notice: no EAGLE head at ${options.eagle}; EAGLE rows are skipped\n`);
  }
  const sink = { write: stderr, isTerminal: Deno.stderr.isTerminal() };
  const stage: StageRunner = <T>(label: string, work: () => Promise<T>): Promise<T> =>
    new ProgressBar(label, sink).wrap(work);

  const chosen = selectPrompts(
    await readPromptFixtures(
      Deno.env.get("SPECDEC_BENCH_PROMPTS") ?? `${ROOT}/tests/fixtures/prompts.json`,
    ),
    options.quick,
  );
  const fixed: RuntimeSetting = { threads: options.threads ?? 1, spinning: true };
  const probed = options.threads === undefined
    ? await probeThreads({
      target: options.target,
      draft: options.draft,
      text: chosen[0]!.text,
      k: PROBE_K,
      maxNewTokens: options.quick ? 24 : 48,
    }, stage)
    : { single: fixed, dual: fixed, probe: [] as ThreadProbe[] };
  const threads = probed.single.threads;
  const request: Omit<BenchModelRequest, "weights"> = {
    target: options.target,
    draft: options.draft,
    ...(hasHeads ? { medusa: options.medusa } : {}),
    ...(hasEagle ? { eagle: options.eagle } : {}),
    single: probed.single,
    dual: probed.dual,
  };
  const date = new Date().toISOString();
  const machine = machineInfo(threads);
  machine.spinning = probed.single.spinning;
  const timingReps = options.quick ? 7 : 15;
  const phase = async (
    label: string,
    configs: BenchConfig[],
    prompts: BenchPrompt[],
    run: (onRun: (done: number, total: number, label: string) => Promise<void>) => Promise<
      RunRecord[]
    >,
  ): Promise<RunRecord[]> => {
    const total = configs.reduce(
      (s, c) => s + prompts.filter((p) => c.kinds.includes(p.kind)).length,
      0,
    );
    const bar = new ProgressBar(label, sink, { total });
    await bar.start();
    const records = await run((_done, _total, l) => bar.tick(1, l));
    await bar.done();
    return records;
  };

  // --- f32: cost model, sweeps, follow-up runs at each method's best setting, V(g) ---
  let t0 = performance.now();
  let loaded = await loadBenchModels({
    ...request,
    weights: "f32",
    drafters: options.quick ? ["q8"] : ["q8", "q4"],
  }, stage);
  const costs: PrecisionCost[] = [];
  const runs: RunRecord[] = [];
  let prompts: BenchPrompt[];
  let cost: BenchmarkResults["cost"];
  let best: PlanSettings;
  // V(g) of the same weights on ONNX Runtime's kernels (Gemm / MatMulNBits), for comparison.
  const gemmCost = (weights: Precision): Promise<PrecisionCost> =>
    stage(`timing V(g) with ONNX Runtime's kernels (${weights})`, async () => {
      using target = await CausalLM.load(options.target, {
        weights,
        linear: "gemm",
        threads: request.dual.threads,
        spinning: request.dual.spinning,
      });
      const verifyMs = await measureVerifyCurve(
        target,
        contextIds(prompts, PRECISION_CONTEXT_TOKENS),
        Array.from({ length: PRECISION_MAX_VERIFY }, (_, i) => i + 1),
        timingReps,
      );
      return { weights, verifyMs, linear: "gemm" };
    });
  const models = loaded.models;
  const methodRuntime: NonNullable<BenchmarkResults["settings"]["methodRuntime"]> = {
    ar: probed.single,
    lookup: probed.single,
    speculative: probed.dual,
    ...(models.heads !== undefined ? { medusa: probed.dual } : {}),
    ...(models.eagle !== undefined ? { eagle: probed.dual } : {}),
  };
  try {
    const loadMs = performance.now() - t0;
    const tokenizer = models.tokenizer;
    prompts = chosen.map((p) => ({ id: p.id, kind: p.kind, ids: tokenizer.encode(p.text) }));
    const sweeps = sweepConfigs(options.quick, {
      heads: models.heads !== undefined,
      eagle: models.eagle !== undefined,
    });
    // V at every verified size: chains (K + 1), Medusa trees (nodes), EAGLE trees (nodes + 1).
    const treeSizes = sweeps.flatMap((c) =>
      c.tree === undefined ? [] : c.method === "eagle" ? [c.tree + 1] : [c.tree]
    );
    // The lookup-branch runs verify a varying number of tokens per step: V at their mean g is
    // interpolated between these sizes (costVMean).
    const verifySizes = [...new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 24, ...treeSizes])]
      .sort((a, b) => a - b);
    cost = await stage(
      "timing single forwards (c, V)",
      () => measureCost(models, prompts[0]!.ids, verifySizes, timingReps),
    );
    // Every phase runs autoregressive decoding beside its configurations (withBaselines) and
    // tags its records, so each speedup is against a baseline measured in the same minutes.
    const decode = (plan: BenchConfig[], name: string): Promise<RunRecord[]> => {
      const configs = withBaselines(plan);
      return phase(
        `benchmark runs: ${name}`,
        configs,
        prompts,
        (onRun) =>
          decodeRuns(loaded.modelsFor, {
            prompts,
            configs,
            maxNewTokens: options.maxNewTokens,
            seed: 1234,
            repeats: options.repeats,
            phase: name,
            onRun,
          }),
      );
    };
    runs.push(...await decode(sweeps, "sweeps (f32)"));
    runs.push(...await decode(drafterConfigs(bestPlan(runs), options.quick), "quantized drafters"));
    // Each drafting method at its best so far (drafter precision included) with a lookup branch.
    runs.push(
      ...await decode(lookupBranchConfigs(bestPlan(runs), options.quick), "lookup branch (f32)"),
    );
    best = bestPlan(runs); // over the sweep, drafter and lookup-branch runs
    runs.push(...await decode(followUpConfigs(best), "best settings (f32)"));
    const f32 = await stage(
      `timing V(g) at a ${PRECISION_CONTEXT_TOKENS}-token context (f32)`,
      () =>
        precisionRuns(loaded, {
          weights: "f32",
          prompts,
          configs: [],
          maxNewTokens: options.maxNewTokens,
          repeats: options.repeats,
          timingReps,
          loadMs,
        }),
    );
    costs.push(f32.cost);
    costs.push(await gemmCost("f32"));
  } finally {
    loaded.close();
  }

  // --- quantized weights: V(g) and every method near its f32 best setting ---
  for (const weights of options.weights.filter((w) => w !== "f32")) {
    t0 = performance.now();
    loaded = await loadBenchModels({ ...request, weights }, stage);
    try {
      const loadMs = performance.now() - t0;
      const configs = withBaselines(precisionConfigs(best, options.quick));
      const r = await phase(
        `benchmark runs (${weights})`,
        configs,
        prompts,
        (onRun) =>
          precisionRuns(loaded, {
            weights,
            prompts,
            configs,
            maxNewTokens: options.maxNewTokens,
            repeats: options.repeats,
            timingReps,
            loadMs,
            onRun,
          }).then((x) => {
            costs.push(x.cost);
            return x.runs;
          }),
      );
      runs.push(...r);
      // Each drafting method's best at this precision, with a lookup branch.
      const branch = withBaselines(precisionLookupConfigs(bestPlan(r, weights)));
      runs.push(
        ...await phase(
          `benchmark runs: lookup branch (${weights})`,
          branch,
          prompts,
          (onRun) =>
            decodeRuns(loaded.modelsFor, {
              prompts,
              configs: branch,
              maxNewTokens: options.maxNewTokens,
              seed: 1234,
              repeats: options.repeats,
              weights,
              phase: `lookup branch (${weights})`,
              onRun,
            }),
        ),
      );
    } finally {
      loaded.close();
    }
    // The same weights with GroupQueryAttention, the operator the TreeAttention default replaced.
    const gqa = await stage(`timing V(g) with GroupQueryAttention (${weights})`, async () => {
      using target = await CausalLM.load(options.target, {
        weights,
        attention: "gqa",
        threads: request.dual.threads,
        spinning: request.dual.spinning,
      });
      return await measureVerifyCurve(
        target,
        contextIds(prompts, PRECISION_CONTEXT_TOKENS),
        Array.from({ length: PRECISION_MAX_VERIFY }, (_, i) => i + 1),
        timingReps,
      );
    });
    costs.push({ weights, verifyMs: gqa, attention: "gqa" });
    costs.push(await gemmCost(weights));
  }

  const peers = await runPeers(
    {
      enabled: options.peers,
      quick: options.quick,
      target: options.target,
      draft: options.draft,
      maxNewTokens: options.maxNewTokens,
      k: best.speculative?.k ?? PROBE_K,
      lookupK: best.lookup?.k ?? PROBE_K,
      threads,
      repeats: options.repeats,
    },
    prompts,
    stderr,
  );

  // --- optional sections (real scale, ...): see optional_sections.ts ---
  const sections = await optionalSections(options.skipSections, {
    quick: options.quick,
    root: ROOT,
    out: options.out,
    runtime: probed.single,
    stage,
    stderr,
  });

  const loadAverageEnd = loadAverage();
  if (loadAverageEnd.length > 0) machine.loadAverageEnd = loadAverageEnd;
  const results: BenchmarkResults = {
    schema: "specdec-benchmark/1",
    date,
    quick: options.quick,
    machine,
    checkpoints: {
      target: rel(options.target),
      draft: rel(options.draft),
      ...(hasHeads ? { medusa: rel(options.medusa) } : {}),
      ...(hasEagle ? { eagle: rel(options.eagle) } : {}),
    },
    settings: {
      maxNewTokens: options.maxNewTokens,
      repeats: options.repeats,
      ...(probed.probe.length > 0 ? { threadProbe: probed.probe } : {}),
      methodRuntime,
      prompts: prompts.map((p) => ({ id: p.id, kind: p.kind, promptTokens: p.ids.length })),
      headlineK: best.speculative?.k ?? PROBE_K,
      ...(best.medusa?.tree !== undefined ? { headlineTree: best.medusa.tree } : {}),
    },
    cost,
    runs,
    peers,
    precision: {
      weights: options.weights,
      contextTokens: PRECISION_CONTEXT_TOKENS,
      costs,
    },
    ...(sections.length > 0 ? { sections } : {}),
  };
  await writeOutputs(results, options.out, true);
  await stderr(
    `wrote ${rel(options.out)}/{benchmark_results.json,REPORT.md,speedup.svg,acceptance.svg}\n`,
  );
  const report = renderReport(results).split("\n");
  const at = report.findIndex((l) => l.startsWith("| Method | Throughput"));
  for (const line of report.slice(at, at + 7).filter((l) => l.startsWith("|"))) {
    await stderr(`${line}\n`);
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await Deno.stderr.write(new TextEncoder().encode(`error: ${message}\n`));
    if (Deno.env.get("SPECDEC_DEBUG") !== undefined && err instanceof Error) {
      console.error(err.stack);
    }
    Deno.exit(err instanceof TypeError && /parse|option/i.test(message) ? 2 : 1);
  }
}
