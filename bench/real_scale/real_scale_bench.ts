/**
 * The real-scale benchmark: a random checkpoint with SmolLM2-135M's exact shapes (made by
 * {@link ./make_checkpoint.ts}, not committed) at f32, q8 and q4: load time cold (conversion
 * into an empty prepared-model cache) and cached, peak RSS of each, greedy autoregressive
 * tokens/s at 1 and 2 threads, V(g); and V(g) of `models/bench-target` per precision. Every
 * measurement runs in its own process ({@link ./probe.ts}) so peak RSS is its own.
 *
 * Usage: deno run -A bench/real_scale/real_scale_bench.ts [--out results] [--quick]
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { ProbeResult } from "./probe.ts";
import { makeCheckpoint, SHAPES } from "./make_checkpoint.ts";
import type { WeightPrecision } from "../../mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PRECISIONS: WeightPrecision[] = ["f32", "q8", "q4"];

/** One precision of the real-scale checkpoint. */
export interface RealScaleRow {
  /** Precision. */
  weights: WeightPrecision;
  /** Bytes of the prepared weight file. */
  weightBytes: number;
  /** Cold load (conversion into an empty cache), 2 threads. */
  cold: ProbeResult;
  /** Cached load, 2 threads. */
  cached: ProbeResult;
  /** Cached load, 1 thread. */
  oneThread: ProbeResult;
}

/** Everything the section shows. */
export interface RealScaleResults {
  /** Shape name. */
  shape: string;
  /** Bytes of the bf16 checkpoint file. */
  checkpointBytes: number;
  /** Rows by precision. */
  rows: RealScaleRow[];
  /** `models/bench-target` per precision, cached, 2 threads (then f32 with TreeAttention). */
  benchTarget: ProbeResult[];
  /** Load average before and after. */
  loadAverage: { before: number[]; after: number[] };
  /** CPU model and cores. */
  cpu: string;
}

async function runProbe(args: string[]): Promise<ProbeResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}bench/real_scale/probe.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (out.code !== 0 || !text.startsWith("{")) {
    throw new Error(`probe ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(text) as ProbeResult;
}

function cpuModel(): string {
  try {
    const m = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.+)/);
    return `${m?.[1] ?? "unknown CPU"}, ${navigator.hardwareConcurrency} cores`;
  } catch {
    return `${navigator.hardwareConcurrency} cores`;
  }
}

async function weightFileBytes(cache: string): Promise<number> {
  for await (const e of Deno.readDir(`${cache}/prepared`)) {
    if (e.isDirectory && !e.name.startsWith(".")) {
      return (await Deno.stat(`${cache}/prepared/${e.name}/weights.bin`)).size;
    }
  }
  return Number.NaN;
}

/**
 * Runs every probe.
 *
 * @param o `quick`: 16 tokens, g up to 4, one repeat.
 * @returns The results.
 */
export async function runRealScale(o: { quick: boolean }): Promise<RealScaleResults> {
  const shape = "smollm2-135m";
  const dir = `${ROOT}.cache/real_scale/${shape}`;
  try {
    await Deno.stat(`${dir}/model.safetensors`);
  } catch {
    await makeCheckpoint(SHAPES[shape]!, dir);
  }
  const checkpointBytes = (await Deno.stat(`${dir}/model.safetensors`)).size;
  const common = o.quick
    ? ["--tokens", "16", "--vg", "1,2,4", "--repeats", "1", "--context", "64"]
    : ["--tokens", "64", "--vg", "1,2,3,4,6,8,12,16", "--repeats", "5", "--context", "256"];
  const before = Deno.loadavg();
  const rows: RealScaleRow[] = [];
  for (const weights of PRECISIONS) {
    const cache = await Deno.makeTempDir({ prefix: "specdec-real-scale-" });
    try {
      const args = ["--model", dir, "--weights", weights, "--cache", cache, ...common];
      const cold = await runProbe([...args, "--threads", "2"]);
      const cached = await runProbe([...args, "--threads", "2"]);
      const oneThread = await runProbe([...args, "--threads", "1"]);
      rows.push({ weights, weightBytes: await weightFileBytes(cache), cold, cached, oneThread });
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
  }
  const benchTarget: ProbeResult[] = [];
  for (const weights of PRECISIONS) {
    benchTarget.push(
      await runProbe(["--model", `${ROOT}models/bench-target`, "--weights", weights, ...common]),
    );
  }
  // The other attention operator for g > 1: the project's TreeAttention op on the CPU.
  const tree = ["--model", `${ROOT}models/bench-target`, "--attention", "tree", ...common];
  benchTarget.push(await runProbe(tree));
  return {
    shape,
    checkpointBytes,
    rows,
    benchTarget,
    loadAverage: { before, after: Deno.loadavg() },
    cpu: cpuModel(),
  };
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const s1 = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const x2 = (v: number): string => `${v.toFixed(2)}`;

/**
 * The report section.
 *
 * @param r The results.
 * @returns Markdown.
 */
export function realScaleMarkdown(r: RealScaleResults): string {
  const f32 = r.rows.find((x) => x.weights === "f32");
  const best = (row: RealScaleRow): number =>
    Math.max(row.cached.arTokensPerSecond, row.oneThread.arTokensPerSecond);
  const gs = Object.keys(r.rows[0]?.cached.v ?? {}).filter((g) => g !== "1");
  const lines = [
    `## Real scale: a ${r.shape}-shaped checkpoint`,
    "",
    `Random weights with the exact shapes of SmolLM2-135M (${
      mb(r.checkpointBytes)
    } bf16 file), made by \`bench/real_scale/make_checkpoint.ts\`. Each cell is its own process ` +
    "(`bench/real_scale/probe.ts`): cold = conversion into an empty prepared-model cache, " +
    "cached = the second load. Greedy `AutoregressiveDecoder` with spinning threads and the " +
    "one-row kernels of plain decoding (`batchInvariant: false`), " +
    `${r.rows[0]?.cached.tokens ?? 0} tokens after a 32-token prompt (peak RSS: load + ` +
    `generation); V(g) after a ${
      r.rows[0]?.cached.context ?? 0
    }-token context. Machine: ${r.cpu}; load average ${
      r.loadAverage.before.map(x2).join(" ")
    } before, ${r.loadAverage.after.map(x2).join(" ")} after.`,
    "",
    "| weights | weight file | load cold | load cached | peak RSS cold | peak RSS cached | RSS goal | AR tok/s 1 thread | AR tok/s 2 threads | best vs f32 |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of r.rows) {
    const goal = 1.3 * row.weightBytes + 200 * 2 ** 20;
    const ratio = f32 ? best(row) / best(f32) : Number.NaN;
    lines.push(
      `| ${row.weights} | ${mb(row.weightBytes)} | ${s1(row.cold.loadMs)} | ${
        s1(row.cached.loadMs)
      } | ${row.cold.peakRssMb.toFixed(0)} MB | ${row.cached.peakRssMb.toFixed(0)} MB | <= ${
        mb(goal)
      } | ${row.oneThread.arTokensPerSecond.toFixed(1)} | ${
        row.cached.arTokensPerSecond.toFixed(1)
      } | ${ratio.toFixed(2)}x |`,
    );
  }
  lines.push(
    "",
    `V(g) = time of a g-token forward / a 1-token forward, 2 threads, best of repeats:`,
    "",
    `| model | weights | attention | 1-token ms | ${gs.map((g) => `V(${g})`).join(" | ")} |`,
    `|---|---|---|---|${gs.map(() => "---").join("|")}|`,
  );
  const vRow = (name: string, p: ProbeResult): string =>
    `| ${name} | ${p.weights} | ${p.attention} | ${p.forwardMs["1"]?.toFixed(2)} | ${
      gs.map((g) => x2(p.v[g] ?? Number.NaN)).join(" | ")
    } |`;
  for (const row of r.rows) lines.push(vRow(r.shape, row.cached));
  for (const p of r.benchTarget) lines.push(vRow("bench-target", p));
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string", default: `${ROOT}results` }, quick: { type: "boolean" } },
  });
  const results = await runRealScale({ quick: values.quick === true });
  const md = realScaleMarkdown(results);
  await Deno.mkdir(values.out, { recursive: true });
  await Deno.writeTextFile(`${values.out}/real_scale.json`, JSON.stringify(results, null, 2));
  await Deno.writeTextFile(
    `${values.out}/REAL_SCALE.md`,
    `# specdec real-scale benchmark\n\n${md}`,
  );
  console.log(md);
}
