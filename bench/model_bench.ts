/**
 * Model runtime benchmark: per-token decode latency of each checkpoint, the
 * verification cost ratio V(g) = time of a (g+1)-token forward / time of a
 * 1-token forward for g = 1..8, ONNX Runtime intra-op threads 1 vs 2 (and
 * thread spinning off), and Hugging Face transformers' decode speed on the same
 * checkpoint and prompt (bench/peers/hf_decode.py), side by side.
 *
 * Usage: deno task bench:model [--models a,b] [--tokens 64] [--repeats 5]
 *          [--no-peer] [--out results/model_bench.json]
 * Default models: models/bench-target and models/bench-draft when present,
 * else models/tiny-target and models/tiny-draft, else the random llama fixture.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { CausalLM, Tokenizer } from "../mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    models: { type: "string" },
    tokens: { type: "string", default: "64" },
    repeats: { type: "string", default: "5" },
    "no-peer": { type: "boolean", default: false },
    out: { type: "string" },
  },
});

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function defaultModels(): string[] {
  for (const set of [["bench-target", "bench-draft"], ["tiny-target", "tiny-draft"]]) {
    const dirs = set.map((m) => `${ROOT}models/${m}`).filter((d) => exists(`${d}/config.json`));
    if (dirs.length > 0) return dirs;
  }
  return [`${ROOT}tests/fixtures/random/llama`];
}

const models = args.models ? args.models.split(",").map((m) => m.trim()) : defaultModels();
const newTokens = Number(args.tokens);
const repeats = Number(args.repeats);
if (!Number.isInteger(newTokens) || newTokens < 2) throw new RangeError("--tokens must be >= 2");
if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError("--repeats must be >= 1");

/** The first code prompt of tests/fixtures/prompts.json, tokenized; else fixed ids. */
async function promptIds(dir: string, vocab: number): Promise<number[]> {
  try {
    const prompts = JSON.parse(await Deno.readTextFile(`${ROOT}tests/fixtures/prompts.json`));
    const text: string = prompts.prompts.find((p: { kind: string }) => p.kind === "code").text;
    const tok = await Tokenizer.load(dir, { modelVocabSize: vocab });
    const ids = tok.encode(text).slice(0, 128);
    if (ids.length > 0) return ids;
  } catch { /* no prompts or no tokenizer: fixed ids */ }
  return Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % vocab);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function argmax(l: Float32Array, row: number, n: number): number {
  let b = 0;
  for (let i = 1; i < n; i++) if (l[row * n + i]! > l[row * n + b]!) b = i;
  return b;
}

interface Run {
  model: string;
  threads: number;
  spinning: boolean;
  promptTokens: number;
  prefillMs: number;
  decodeMsPerToken: number;
  tokensPerSecond: number;
  forwardMs: number[]; // [9]: fastest forward of 1..9 tokens
  forwardMedianMs: number[]; // [9]: median forward of 1..9 tokens
  v: number[]; // [8]: V(g), g = 1..8
  tokens: number[];
}

async function measure(dir: string, threads: number, spinning: boolean): Promise<Run> {
  const probe = await CausalLM.load(dir, { maxLength: 8, threads: 1 });
  const vocab = probe.vocabSize;
  probe.close();
  const ids = await promptIds(dir, vocab);
  using lm = await CausalLM.load(dir, {
    maxLength: ids.length + newTokens + 16,
    threads,
    spinning,
  });
  const V = lm.vocabSize;
  // Warm-up.
  await lm.prefill(ids);
  for (let i = 0; i < 4; i++) await lm.forward([ids[i]!], [lm.kvLength]);
  let best = Infinity;
  let prefillMs = Infinity;
  let tokens: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let t0 = performance.now();
    const { logits } = await lm.prefill(ids);
    prefillMs = Math.min(prefillMs, performance.now() - t0);
    let next = argmax(logits, ids.length - 1, V);
    const out = [next];
    t0 = performance.now();
    for (let i = 1; i < newTokens; i++) {
      const r1 = await lm.forward([next], [lm.kvLength]);
      next = argmax(r1.logits, 0, V);
      out.push(next);
    }
    best = Math.min(best, (performance.now() - t0) / (newTokens - 1));
    tokens = out;
  }
  // Forward of m = 1..9 tokens after the prompt (rewound each time), repeats * 4 times,
  // interleaved over m so drifting machine load hits every m alike; V uses the fastest run
  // (least disturbed by other work), the median is kept too.
  await lm.prefill(ids);
  const P = lm.kvLength;
  const times: number[][] = Array.from({ length: 9 }, () => []);
  for (let r = 0; r < repeats * 4; r++) {
    for (let m = 1; m <= 9; m++) {
      const chunk = Array.from({ length: m }, (_, i) => ids[i % ids.length]!);
      const pos = Array.from({ length: m }, (_, i) => P + i);
      const t0 = performance.now();
      await lm.forward(chunk, pos);
      times[m - 1]!.push(performance.now() - t0);
      lm.rewind(P);
    }
  }
  const forwardMs = times.map((t) => Math.min(...t));
  const forwardMedianMs = times.map(median);
  const v = forwardMs.slice(1).map((t) => t / forwardMs[0]!);
  return {
    model: dir,
    threads,
    spinning,
    promptTokens: ids.length,
    prefillMs,
    decodeMsPerToken: best,
    tokensPerSecond: 1000 / best,
    forwardMs,
    forwardMedianMs,
    v,
    tokens,
  };
}

interface Peer {
  threads: number;
  decode_ms_per_token: number;
  tokens_per_s: number;
  tokens: number[];
  torch: string;
  transformers: string;
}

async function peer(dir: string, ids: number[], threads: number): Promise<Peer | string> {
  const python = `${ROOT}.venv/bin/python`;
  if (!exists(python)) return "no .venv/bin/python";
  const cmd = new Deno.Command(python, {
    args: [
      `${ROOT}bench/peers/hf_decode.py`,
      dir,
      "--prompt-ids",
      ids.join(","),
      "--new-tokens",
      String(newTokens),
      "--threads",
      String(threads),
      "--repeats",
      String(Math.min(repeats, 3)),
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  if (!out.success) {
    return new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "failed";
  }
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}

const f = (x: number, d = 2): string => x.toFixed(d);
const load = (): string => Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
const results: { ours: Run[]; peers: Record<string, Peer | string> } = { ours: [], peers: {} };
// Runs only as the main module (not when imported or collected by `deno bench`).
if (import.meta.main) {
  console.log(
    `specdec model bench: ${newTokens} new tokens, best of ${repeats}, ${navigator.hardwareConcurrency} cores, load average ${load()}`,
  );
  for (const dir of models) {
    const name = dir.split("/").filter(Boolean).pop()!;
    console.log(`\n## ${name}`);
    console.log("threads | spin | prefill ms | decode ms/token | tokens/s | V(1..8)");
    const runs: Run[] = [];
    for (const [threads, spinning] of [[1, false], [2, false], [2, true]] as const) {
      const r = await measure(dir, threads, spinning);
      runs.push(r);
      results.ours.push(r);
      console.log(
        `${threads} | ${spinning ? "on" : "off"} | ${f(r.prefillMs)} | ${
          f(r.decodeMsPerToken, 3)
        } | ${f(r.tokensPerSecond, 1)} | ${r.v.map((x) => f(x)).join(" ")}`,
      );
    }
    if (!args["no-peer"]) {
      const ids = await promptIds(
        dir,
        (await CausalLM.load(dir, { maxLength: 8, threads: 1 })).vocabSize,
      );
      console.log("\ntransformers (torch, CPU, fp32, KV cache) vs specdec, greedy decode:");
      console.log(
        "threads | transformers ms/token | tokens/s | specdec ms/token | tokens/s | speed ratio | same tokens",
      );
      for (const threads of [1, 2]) {
        const p = await peer(dir, ids, threads);
        results.peers[`${name}/${threads}`] = p;
        const ours = runs.find((r) => r.threads === threads && !r.spinning)!; // the defaults
        if (typeof p === "string") {
          console.log(`${threads} | (peer failed: ${p})`);
          continue;
        }
        const same = p.tokens.length === ours.tokens.length &&
          p.tokens.every((t, i) => t === ours.tokens[i]);
        console.log(
          `${threads} | ${f(p.decode_ms_per_token, 3)} | ${f(p.tokens_per_s, 1)} | ${
            f(ours.decodeMsPerToken, 3)
          } | ${f(ours.tokensPerSecond, 1)} | ${
            f(p.decode_ms_per_token / ours.decodeMsPerToken)
          }x | ${same}`,
        );
      }
    }
  }
  console.log(`\nload average at the end: ${load()} (other work on the machine skews timings)`);
  if (args.out) {
    await Deno.writeTextFile(args.out, JSON.stringify(results, null, 1) + "\n");
    console.log(`\nwrote ${args.out}`);
  }
}
