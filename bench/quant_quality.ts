/**
 * Quality of quantized weights: held-out perplexity of a checkpoint at f32, q8 and q4 over the
 * same windows, and greedy agreement with f32 on the held-out code prompts (teacher-forced
 * top-1 agreement along f32's greedy path, and the length of the identical greedy prefix).
 *
 * Held-out tokens: `runs/data/heldout.bin` (u16 ids of the corpus's held-out split, written by
 * `scripts/train/train.py corpus` / `tokenizer`) when present, else the held-out prompts of
 * `tests/fixtures/prompts.json` (the report says which).
 *
 * Usage: deno run -A bench/quant_quality.ts [--model models/bench-target] [--windows 128]
 *          [--out results] [--card] [--variants]
 * `--card` also writes `<model>/quantization.json` (read by the model card); `--variants` adds
 * rows with zero points (asymmetric blocks), with f32 activations (accuracy level 0), with an f16 embedding
 * table and with an f32 LM head.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  CausalLM,
  type QuantizationOptions,
  Tokenizer,
  WEIGHT_PRECISIONS,
  type WeightPrecision,
} from "../mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const WINDOW = 256;
const NEW = 64;

/** One precision's figures. */
export interface QualityRow {
  /** Precision. */
  weights: WeightPrecision;
  /** Quantization details other than the defaults, if any. */
  variant?: string;
  /** Held-out perplexity. */
  perplexity: number;
  /** Perplexity relative to f32 (1.01 = 1% worse). */
  relative: number;
  /** Teacher-forced top-1 agreement with f32 along f32's greedy continuations. */
  top1Agreement: number;
  /** Mean length of the greedy prefix identical to f32's, out of {@linkcode NEW}. */
  identicalPrefix: number;
}

/** The quality report. */
export interface QualityResults {
  /** Checkpoint. */
  model: string;
  /** Where the held-out tokens came from. */
  source: string;
  /** Tokens scored per precision. */
  scoredTokens: number;
  /** Prompts for the agreement. */
  prompts: number;
  /** Rows by precision. */
  rows: QualityRow[];
}

async function heldOutWindows(model: string, windows: number): Promise<{
  source: string;
  rows: number[][];
}> {
  try {
    const bytes = await Deno.readFile(`${ROOT}runs/data/heldout.bin`);
    const ids = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
    const rows: number[][] = [];
    const stride = Math.max(WINDOW, Math.floor(ids.length / windows));
    for (let at = 0; at + WINDOW <= ids.length && rows.length < windows; at += stride) {
      rows.push(Array.from(ids.subarray(at, at + WINDOW)));
    }
    return { source: "runs/data/heldout.bin (the corpus's held-out split)", rows };
  } catch {
    const tok = await Tokenizer.load(model);
    const json = JSON.parse(await Deno.readTextFile(`${ROOT}tests/fixtures/prompts.json`));
    const rows = (json.prompts as { text: string }[]).map((p) => tok.encode(p.text))
      .filter((r) => r.length > 8).map((r) => r.slice(0, WINDOW));
    return { source: "tests/fixtures/prompts.json (held-out prompts)", rows };
  }
}

function logSoftmaxAt(logits: Float32Array, row: number, V: number, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[row * V + i]!);
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(logits[row * V + i]! - max);
  return logits[row * V + target]! - max - Math.log(sum);
}

function argmaxRow(logits: Float32Array, row: number, V: number): number {
  let best = 0;
  for (let i = 1; i < V; i++) if (logits[row * V + i]! > logits[row * V + best]!) best = i;
  return best;
}

async function greedy(lm: CausalLM, prompt: number[]): Promise<number[]> {
  const V = lm.vocabSize;
  let { logits } = await lm.prefill(prompt);
  const out = [argmaxRow(logits, prompt.length - 1, V)];
  while (out.length < NEW) {
    ({ logits } = await lm.forward([out[out.length - 1]!], [lm.kvLength]));
    out.push(argmaxRow(logits, 0, V));
  }
  return out;
}

/**
 * Measures every precision.
 *
 * @param model Checkpoint folder.
 * @param windows Held-out windows of 256 tokens.
 * @param variants Also measure q4/q8 with zero points, with f32 activations, with an f16
 *   embedding table and with an f32 LM head.
 * @returns The results.
 */
export async function quantQuality(
  model: string,
  windows: number,
  variants = false,
): Promise<QualityResults> {
  const { source, rows: held } = await heldOutWindows(model, windows);
  const tok = await Tokenizer.load(model);
  const json = JSON.parse(await Deno.readTextFile(`${ROOT}tests/fixtures/prompts.json`));
  const prompts = (json.prompts as { kind: string; text: string }[])
    .filter((p) => p.kind === "code").map((p) => tok.encode(p.text).slice(-192));
  const maxLength = WINDOW + NEW + 8;
  const results: QualityRow[] = [];
  let refPaths: number[][] = [];
  let refPpl = Number.NaN;
  let scored = 0;
  const runs: { weights: WeightPrecision; variant?: string; q?: QuantizationOptions }[] =
    WEIGHT_PRECISIONS.map((weights) => ({ weights }));
  if (variants) {
    for (const weights of ["q8", "q4"] as const) {
      runs.push({ weights, variant: "zero points", q: { zeroPoints: true } });
      runs.push({ weights, variant: "accuracy level 0", q: { accuracyLevel: 0 } });
      runs.push({ weights, variant: "embedding f16", q: { embedding: "f16" } });
      runs.push({ weights, variant: "LM head f32", q: { lmHead: "f32" } });
    }
  }
  for (const { weights, variant, q } of runs) {
    using lm = await CausalLM.load(model, {
      weights,
      maxLength,
      cache: false,
      ...(q ? { quantization: q } : {}),
    });
    const V = lm.vocabSize;
    let nll = 0;
    scored = 0;
    for (const w of held) {
      const { logits } = await lm.prefill(w);
      for (let i = 0; i + 1 < w.length; i++) nll -= logSoftmaxAt(logits, i, V, w[i + 1]!);
      scored += w.length - 1;
    }
    const perplexity = Math.exp(nll / scored);
    if (weights === "f32") {
      refPpl = perplexity;
      refPaths = [];
      for (const p of prompts) refPaths.push(await greedy(lm, p));
    }
    let agree = 0, total = 0, prefix = 0;
    for (let k = 0; k < prompts.length; k++) {
      const p = prompts[k]!, path = refPaths[k]!;
      const { logits } = await lm.prefill([...p, ...path.slice(0, -1)]);
      for (let i = 0; i < path.length; i++) {
        agree += argmaxRow(logits, p.length - 1 + i, V) === path[i] ? 1 : 0;
        total++;
      }
      const own = weights === "f32" ? path : await greedy(lm, p);
      let n = 0;
      while (n < own.length && own[n] === path[n]) n++;
      prefix += n;
    }
    results.push({
      weights,
      ...(variant ? { variant } : {}),
      perplexity,
      relative: perplexity / refPpl,
      top1Agreement: agree / total,
      identicalPrefix: prefix / prompts.length,
    });
  }
  return { model, source, scoredTokens: scored, prompts: prompts.length, rows: results };
}

/**
 * The markdown table.
 *
 * @param r The results.
 * @returns Markdown.
 */
export function qualityMarkdown(r: QualityResults): string {
  const lines = [
    `Quality of quantized weights on \`${
      r.model.replace(ROOT, "")
    }\` (\`bench/quant_quality.ts\`): ` +
    `perplexity over ${r.scoredTokens} held-out tokens (${r.source}), windows of ${WINDOW}; ` +
    `agreement with f32 on ${r.prompts} held-out code prompts x ${NEW} greedy tokens.`,
    "",
    "| weights | perplexity | vs f32 | top-1 agreement with f32 (teacher-forced) | identical greedy prefix |",
    "|---|---|---|---|---|",
  ];
  for (const x of r.rows) {
    lines.push(
      `| ${x.weights}${x.variant ? ` (${x.variant})` : ""} | ${x.perplexity.toFixed(3)} | ${
        ((x.relative - 1) * 100).toFixed(2)
      }% | ${(x.top1Agreement * 100).toFixed(1)}% | ${x.identicalPrefix.toFixed(1)} / ${NEW} |`,
    );
  }
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string", default: `${ROOT}models/bench-target` },
      windows: { type: "string", default: "128" },
      out: { type: "string", default: `${ROOT}results` },
      card: { type: "boolean" },
      variants: { type: "boolean" },
    },
  });
  const r = await quantQuality(values.model, Number(values.windows), values.variants === true);
  const md = qualityMarkdown(r);
  await Deno.mkdir(values.out, { recursive: true });
  await Deno.writeTextFile(`${values.out}/quant_quality.json`, JSON.stringify(r, null, 2) + "\n");
  await Deno.writeTextFile(
    `${values.out}/QUANT_QUALITY.md`,
    `# Quantized weights: quality\n\n${md}`,
  );
  if (values.card) {
    await Deno.writeTextFile(
      `${values.model}/quantization.json`,
      JSON.stringify({ ...r, model: values.model.replace(ROOT, "") }, null, 2) + "\n",
    );
  }
  console.log(md);
}
