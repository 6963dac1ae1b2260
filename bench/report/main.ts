/**
 * `deno task bench:report [--quick]`: measures autoregressive, draft-target,
 * Medusa and prompt-lookup decoding on the bench checkpoints over a fixed
 * prompt set, runs Hugging Face transformers on the same checkpoints and
 * prompt ids, and writes `results/benchmark_results.json`, `results/REPORT.md`,
 * `results/speedup.svg` and `results/acceptance.svg`.
 *
 * Options: `--quick` (fewer prompts, tokens and sweep points), `--out DIR`
 * (default `results`), `--target DIR`, `--draft DIR`, `--medusa DIR` (default
 * the bench checkpoints), `--threads N`, `--max-new-tokens N`, `--no-peers`,
 * `--repeats N` (generations per run, fastest kept; default 2, quick 1),
 * `--render-only` (rewrite REPORT.md and the SVGs from an existing
 * `benchmark_results.json`).
 *
 * Besides the constant-K sweep, draft-target runs with the heuristic K
 * schedule and with draft-confidence early stops on the code prompts
 * (REPORT.md's "Dynamic K and draft-confidence stop").
 *
 * @module
 */

import os from "node:os";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { renderReport } from "./report_markdown.ts";
import { renderCharts } from "./report_svg.ts";
import type {
  BenchmarkResults,
  PeerResults,
  PromptKind,
  RuntimeSetting,
  ThreadProbe,
} from "./report_model.ts";
import {
  type BenchConfig,
  type BenchPrompt,
  measureCost,
  probeSpeed,
  runBenchmark,
} from "./report_runner.ts";
import { nativeVersions } from "../mod.ts";
import { loadModelParts, ProgressBar } from "../cli.ts";
import { readPromptFixtures } from "./report_prompts.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const HEADLINE_K = 5;
const HEADLINE_TREE = 8;

/** Prose prompts used only when the fixtures have none (named in the report as built-in). */
const FALLBACK_PROSE = [
  "The history of the printing press begins",
  "Once upon a time, in a small village by the sea,",
];

interface Options {
  quick: boolean;
  out: string;
  target: string;
  draft: string;
  medusa: string;
  threads: number | undefined;
  maxNewTokens: number;
  peers: boolean;
  renderOnly: boolean;
  repeats: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: "boolean" },
      out: { type: "string" },
      target: { type: "string" },
      draft: { type: "string" },
      medusa: { type: "string" },
      threads: { type: "string" },
      "max-new-tokens": { type: "string" },
      "no-peers": { type: "boolean" },
      "render-only": { type: "boolean" },
      repeats: { type: "string" },
    },
  });
  const int = (s: string | undefined, flag: string): number | undefined => {
    if (s === undefined) return undefined;
    const n = /^\d+$/.test(s) ? Number(s) : NaN;
    if (!(n >= 1)) throw new RangeError(`${flag} must be a positive integer, got '${s}'`);
    return n;
  };
  const quick = values.quick === true;
  const target = values.target ?? `${ROOT}/models/bench-target`;
  return {
    quick,
    out: values.out ?? `${ROOT}/results`,
    target,
    draft: values.draft ?? `${ROOT}/models/bench-draft`,
    medusa: values.medusa ?? `${target}/medusa`,
    threads: int(values.threads, "--threads"),
    maxNewTokens: int(values["max-new-tokens"], "--max-new-tokens") ?? (quick ? 32 : 128),
    peers: values["no-peers"] !== true,
    renderOnly: values["render-only"] === true,
    repeats: int(values.repeats, "--repeats") ?? (quick ? 1 : 2),
  };
}

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

/** 1-, 5- and 15-minute load averages (empty where the OS does not report them). */
function loadAverage(): number[] {
  try {
    return Deno.loadavg();
  } catch {
    return [];
  }
}

function machine(threads: number): BenchmarkResults["machine"] {
  // /proc/cpuinfo needs --allow-all in Deno; node:os reads the same model name with --allow-sys.
  let cpuModel = "unknown CPU";
  try {
    cpuModel = os.cpus()[0]?.model.trim() ?? cpuModel;
  } catch { /* no --allow-sys */ }
  return {
    cpuModel,
    cores: navigator.hardwareConcurrency,
    ortVersion: nativeVersions().onnxruntime,
    deno: Deno.version.deno,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    loadAverage: loadAverage(),
    threads,
  };
}

/**
 * The dynamic-K and draft-confidence points of draft-target (greedy, code
 * prompts), measured beside the constant-K sweep: the heuristic schedule from
 * K = 3 and 5 (the decoder's default bounds), constant K = 3 with early-stop
 * thresholds, and both together; `--quick` keeps one of each feature.
 */
function draftSettings(quick: boolean): BenchConfig[] {
  const base = (k: number): BenchConfig => ({
    method: "speculative",
    k,
    temperature: 0,
    kinds: ["code"],
  });
  const heuristic = (k: number): BenchConfig => ({ ...base(k), schedule: "heuristic" });
  const confident = (k: number, confidence: number): BenchConfig => ({ ...base(k), confidence });
  if (quick) return [heuristic(3), confident(3, 0.5)];
  return [
    heuristic(3),
    heuristic(5),
    confident(3, 0.3),
    confident(3, 0.5),
    confident(3, 0.7),
    { ...heuristic(5), confidence: 0.5 },
  ];
}

function configs(quick: boolean, hasHeads: boolean): BenchConfig[] {
  const all: PromptKind[] = ["code", "prose"];
  const code: PromptKind[] = ["code"];
  const list: BenchConfig[] = [
    { method: "ar", temperature: 0, kinds: all },
    { method: "speculative", k: HEADLINE_K, temperature: 0, kinds: all },
    { method: "lookup", k: HEADLINE_K, temperature: 0, kinds: all },
  ];
  if (hasHeads) list.push({ method: "medusa", tree: HEADLINE_TREE, temperature: 0, kinds: all });
  const ks = quick ? [1, 3, 8] : [1, 2, 3, 4, 6, 7, 8];
  for (const k of ks) list.push({ method: "speculative", k, temperature: 0, kinds: code });
  for (const k of quick ? [2] : [2, 3, 8]) {
    list.push({ method: "lookup", k, temperature: 0, kinds: code });
  }
  if (hasHeads) {
    for (const tree of quick ? [4, 16] : [4, 16, 64]) {
      list.push({ method: "medusa", tree, temperature: 0, kinds: code });
    }
  }
  list.push(...draftSettings(quick));
  list.push({ method: "ar", temperature: 1, kinds: code });
  list.push({ method: "speculative", k: HEADLINE_K, temperature: 1, kinds: code });
  if (hasHeads) list.push({ method: "medusa", tree: HEADLINE_TREE, temperature: 1, kinds: code });
  return list;
}

async function runPeers(
  options: Options,
  prompts: BenchPrompt[],
  threads: number,
  stderr: (s: string) => Promise<void>,
): Promise<PeerResults> {
  const python = `${ROOT}/.venv/bin/python`;
  if (!options.peers) return { status: "skipped", reason: "--no-peers", runs: [] };
  if (!(await exists(python))) {
    await stderr("notice: .venv/bin/python not found; skipping the transformers comparison\n");
    return { status: "skipped", reason: ".venv/bin/python not found", runs: [] };
  }
  const file = await Deno.makeTempFile({ prefix: "specdec_prompts_", suffix: ".json" });
  try {
    // The first code prompts only: transformers is slow enough to dominate the run's time.
    const code = prompts.filter((p) => p.kind === "code").slice(0, options.quick ? 2 : 4);
    await Deno.writeTextFile(
      file,
      JSON.stringify(code.map((p) => ({ id: p.id, kind: p.kind, ids: p.ids }))),
    );
    const bar = new ProgressBar("transformers peer runs", {
      write: stderr,
      isTerminal: Deno.stderr.isTerminal(),
    });
    const out = await bar.wrap(() =>
      new Deno.Command(python, {
        args: [
          `${ROOT}/bench/peers/hf_generate.py`,
          "--target",
          options.target,
          "--draft",
          options.draft,
          "--prompts",
          file,
          "--max-new-tokens",
          String(options.maxNewTokens),
          "--k",
          String(HEADLINE_K),
          "--threads",
          String(threads),
          "--repeats",
          String(options.repeats),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output()
    );
    if (!out.success) {
      const tail = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
      return {
        status: "failed",
        reason: `hf_generate.py exited with ${out.code}: ${tail}`,
        runs: [],
      };
    }
    const parsed = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      engine: string;
      threads: number;
      runs: PeerResults["runs"];
    };
    return { status: "ok", engine: parsed.engine, threads: parsed.threads, runs: parsed.runs };
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/** The runtime setting of a probe entry, its measurements left out. */
function settingOf(p: RuntimeSetting): RuntimeSetting {
  return {
    threads: p.threads,
    spinning: p.spinning,
    ...(p.draftThreads !== undefined ? { draftThreads: p.draftThreads } : {}),
  };
}

/**
 * Tries 1 thread, all cores with spinning, all cores without, and (for
 * draft-target only: autoregressive decoding runs no draft) all cores for the
 * target with 1 thread for the draft, on short greedy generations; returns the
 * fastest setting for one session (autoregressive) and for two alternating
 * sessions (draft-target), and every measurement.
 */
async function probeThreads(
  options: Options,
  text: string,
  stage: <T>(label: string, work: () => Promise<T>) => Promise<T>,
): Promise<{ single: RuntimeSetting; dual: RuntimeSetting; probe: ThreadProbe[] }> {
  const cores = navigator.hardwareConcurrency;
  const settings: RuntimeSetting[] = cores > 1
    ? [
      { threads: 1, spinning: false },
      { threads: cores, spinning: true },
      { threads: cores, spinning: false },
      { threads: cores, spinning: false, draftThreads: 1 },
      // A 1-thread draft has no thread pool, so only the target's workers spin: they keep the
      // other core while the draft runs on the calling thread.
      { threads: cores, spinning: true, draftThreads: 1 },
    ]
    : [{ threads: 1, spinning: false }];
  const probe: ThreadProbe[] = [];
  for (const setting of settings) {
    const quiet = <T>(_label: string, work: () => Promise<T>): Promise<T> => work();
    const draftOnly = setting.draftThreads !== undefined;
    const label = `probing ${setting.threads} thread(s)${
      draftOnly ? ` (draft ${setting.draftThreads})` : ""
    }, spinning ${setting.spinning ? "on" : "off"}`;
    const speeds = await stage(label, async () => {
      const parts = await loadModelParts({
        model: options.target,
        draft: options.draft,
        ...setting,
      }, quiet);
      try {
        const ids = parts.tokenizer.encode(text);
        const models = { target: parts.target, draft: parts.draft!, tokenizer: parts.tokenizer };
        return await probeSpeed(models, ids, HEADLINE_K, options.quick ? 24 : 48, !draftOnly);
      } finally {
        parts.close?.();
      }
    });
    probe.push({
      ...setting,
      ...(speeds.ar !== undefined ? { arTokensPerSecond: speeds.ar } : {}),
      speculativeTokensPerSecond: speeds.speculative,
    });
  }
  const single = probe.filter((p) => p.arTokensPerSecond !== undefined)
    .reduce((a, b) => (b.arTokensPerSecond! > a.arTokensPerSecond! ? b : a));
  const dual = probe.reduce((a, b) =>
    b.speculativeTokensPerSecond > a.speculativeTokensPerSecond ? b : a
  );
  return { single: settingOf(single), dual: settingOf(dual), probe };
}

async function writeOutputs(
  results: BenchmarkResults,
  out: string,
  withJson: boolean,
): Promise<void> {
  await Deno.mkdir(out, { recursive: true });
  if (withJson) {
    await Deno.writeTextFile(
      `${out}/benchmark_results.json`,
      `${JSON.stringify(results, null, 1)}\n`,
    );
  }
  await Deno.writeTextFile(`${out}/REPORT.md`, renderReport(results));
  const charts = renderCharts(results);
  await Deno.writeTextFile(`${out}/speedup.svg`, charts.speedup);
  await Deno.writeTextFile(`${out}/acceptance.svg`, charts.acceptance);
}

async function main(): Promise<number> {
  const enc = new TextEncoder();
  const stderr = async (s: string): Promise<void> => {
    await Deno.stderr.write(enc.encode(s));
  };
  const options = parseOptions(Deno.args);
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
  const sink = { write: stderr, isTerminal: Deno.stderr.isTerminal() };
  const stage = <T>(label: string, work: () => Promise<T>): Promise<T> =>
    new ProgressBar(label, sink).wrap(work);

  const raw = await readPromptFixtures(
    Deno.env.get("SPECDEC_BENCH_PROMPTS") ?? `${ROOT}/tests/fixtures/prompts.json`,
  );
  const codeN = options.quick ? 2 : 8;
  const proseN = options.quick ? 1 : 3;
  let prose = raw.filter((p) => p.kind === "prose").slice(0, proseN);
  if (prose.length === 0) {
    prose = FALLBACK_PROSE.slice(0, proseN).map((text, i) => ({
      id: `prose-builtin-${i}`,
      kind: "prose",
      text,
    }));
  }
  const chosen = [...raw.filter((p) => p.kind === "code").slice(0, codeN), ...prose];
  const fixed: RuntimeSetting = { threads: options.threads ?? 1, spinning: true };
  const probed = options.threads === undefined
    ? await probeThreads(options, chosen[0]!.text, stage)
    : { single: fixed, dual: fixed, probe: [] as ThreadProbe[] };
  // Same target settings: the dual setting's draftThreads only changes the draft and the heads.
  const same = probed.single.threads === probed.dual.threads &&
    probed.single.spinning === probed.dual.spinning;
  // Speculative methods (two sessions) run on models loaded with the dual setting (draft and
  // Medusa heads with its draftThreads, when the probe picked that); autoregressive and prompt
  // lookup (one session) with the single one.
  const request = { model: options.target, draft: options.draft, ...probed.dual };
  const parts = await loadModelParts(
    hasHeads ? { ...request, medusa: options.medusa } : request,
    stage,
  );
  const singleParts = same ? undefined : await loadModelParts(
    { model: options.target, ...probed.single },
    stage,
  ).catch((err) => {
    parts.close?.();
    throw err;
  });
  const threads = probed.single.threads;
  try {
    const tokenizer = parts.tokenizer;
    const prompts: BenchPrompt[] = chosen.map((p) => ({
      id: p.id,
      kind: p.kind,
      ids: tokenizer.encode(p.text),
    }));
    const models = {
      target: parts.target,
      draft: parts.draft!,
      tokenizer,
      ...(parts.heads !== undefined ? { heads: parts.heads } : {}),
    };
    const list = configs(options.quick, parts.heads !== undefined);
    const trees = list.filter((c) => c.method === "medusa").map((c) => c.tree!);
    const verifySizes = [...new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, ...trees])];
    const date = new Date().toISOString();
    const machineInfo = machine(threads);
    machineInfo.spinning = probed.single.spinning;
    const single = singleParts === undefined ? models : { ...models, target: singleParts.target };
    const modelsFor = (c: BenchConfig) =>
      c.method === "ar" || c.method === "lookup" ? single : models;
    const methodRuntime = {
      ar: probed.single,
      lookup: probed.single,
      speculative: probed.dual,
      ...(parts.heads !== undefined ? { medusa: probed.dual } : {}),
    };
    const cost = await stage(
      "timing single forwards (c, V)",
      () => measureCost(models, prompts[0]!.ids, verifySizes, options.quick ? 7 : 15),
    );
    const total = list.reduce(
      (s, c) => s + prompts.filter((p) => c.kinds.includes(p.kind)).length,
      0,
    );
    const bar = new ProgressBar("benchmark runs", sink, { total });
    await bar.start();
    const runs = await runBenchmark(modelsFor, {
      prompts,
      configs: list,
      maxNewTokens: options.maxNewTokens,
      verifySizes,
      timingReps: 5,
      seed: 1234,
      repeats: options.repeats,
      onRun: (_done, _total, label) => bar.tick(1, label),
    });
    await bar.done();
    const peers = await runPeers(options, prompts, threads, stderr);
    const loadAverageEnd = loadAverage();
    if (loadAverageEnd.length > 0) machineInfo.loadAverageEnd = loadAverageEnd;
    const results: BenchmarkResults = {
      schema: "specdec-benchmark/1",
      date,
      quick: options.quick,
      machine: machineInfo,
      checkpoints: {
        target: rel(options.target),
        draft: rel(options.draft),
        ...(parts.heads !== undefined ? { medusa: rel(options.medusa) } : {}),
      },
      settings: {
        maxNewTokens: options.maxNewTokens,
        repeats: options.repeats,
        ...(probed.probe.length > 0 ? { threadProbe: probed.probe } : {}),
        methodRuntime,
        prompts: prompts.map((p) => ({ id: p.id, kind: p.kind, promptTokens: p.ids.length })),
        headlineK: HEADLINE_K,
        ...(parts.heads !== undefined ? { headlineTree: HEADLINE_TREE } : {}),
      },
      cost,
      runs,
      peers,
    };
    await writeOutputs(results, options.out, true);
    await stderr(
      `wrote ${rel(options.out)}/{benchmark_results.json,REPORT.md,speedup.svg,acceptance.svg}\n`,
    );
    const report = renderReport(results).split("\n");
    const at = report.findIndex((l) => l.startsWith("| Method | Throughput"));
    for (const line of report.slice(at, at + 6).filter((l) => l.startsWith("|"))) {
      await stderr(`${line}\n`);
    }
    return 0;
  } finally {
    singleParts?.close?.();
    parts.close?.();
  }
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
