/**
 * One measurement in a fresh process (so its peak RSS is its own): load a checkpoint at a
 * weight precision, decode greedily with `AutoregressiveDecoder`, and time forwards of g
 * tokens at a fixed context for V(g) = time(g tokens) / time(1 token). Prints one JSON line.
 *
 * Usage: deno run -A bench/real_scale/probe.ts --model DIR [--weights f32|q8|q4]
 *          [--threads N] [--cache DIR|off] [--attention gqa|tree] [--quantization JSON]
 *          [--batch-invariant]   (default off: the fast one-row kernels of plain decoding)
 *          [--tokens 64] [--context 256]
 *          [--vg 1,2,4,8,16]
 *          [--repeats 5]
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  AutoregressiveDecoder,
  CausalLM,
  type QuantizationOptions,
  type TextTokenizer,
  WEIGHT_PRECISIONS,
  type WeightPrecision,
} from "../../mod.ts";

/** What one probe measured. */
export interface ProbeResult {
  /** Checkpoint folder. */
  model: string;
  /** Weight precision. */
  weights: WeightPrecision;
  /** Intra-op threads. */
  threads: number;
  /** Attention operator of the graph. */
  attention: "gqa" | "tree";
  /** Whether one-token forwards ran padded to two rows (`batchInvariant`). */
  batchInvariant: boolean;
  /** Prepared-model cache outcome (`built`, `hit`, `off`, ...). */
  cache: string;
  /** Load time, ms. */
  loadMs: number;
  /** RSS right after the load, MB. */
  rssAfterLoadMb: number;
  /** Greedy autoregressive decode-phase tokens per second (after the first token). */
  arTokensPerSecond: number;
  /** Tokens generated. */
  tokens: number;
  /** Best time of a g-token forward at the context, ms, by g. */
  forwardMs: Record<string, number>;
  /** V(g) = forwardMs[g] / forwardMs[1]. */
  v: Record<string, number>;
  /** Peak RSS (VmHWM) after the load and the generation, before the V(g) forwards, MB. */
  peakRssMb: number;
  /** Peak RSS at the end, after the V(g) forwards at the full context, MB. */
  peakRssEndMb: number;
  /** Context of the V(g) forwards, tokens. */
  context: number;
}

/** A tokenizer for id-only runs (random checkpoints have none). */
function idTokenizer(vocabSize: number): TextTokenizer {
  return {
    vocabSize,
    eosTokenId: undefined,
    bosTokenId: undefined,
    eosTokenIds: [],
    encode: () => [],
    decode: (ids) => Array.from(ids).join(" "),
  };
}

function statusMb(field: "VmHWM" | "VmRSS"): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(new RegExp(`${field}:\\s+(\\d+)`));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/**
 * Runs the probe.
 *
 * @param o Options.
 * @returns The measurements.
 */
export async function probe(o: {
  model: string;
  weights: WeightPrecision;
  threads: number;
  attention: "gqa" | "tree";
  quantization?: QuantizationOptions;
  batchInvariant: boolean;
  cache: string | false;
  tokens: number;
  context: number;
  gs: number[];
  repeats: number;
}): Promise<ProbeResult> {
  const maxG = Math.max(...o.gs);
  const t0 = performance.now();
  using lm = await CausalLM.load(o.model, {
    weights: o.weights,
    threads: o.threads,
    spinning: true,
    cache: o.cache,
    attention: o.attention,
    batchInvariant: o.batchInvariant,
    ...(o.quantization ? { quantization: o.quantization } : {}),
    maxLength: Math.max(o.context + maxG, 32 + o.tokens) + 8,
  });
  const loadMs = performance.now() - t0;
  const rssAfterLoadMb = statusMb("VmRSS");
  const V = lm.vocabSize;
  const prompt = Array.from({ length: 32 }, (_, i) => (i * 7919 + 13) % V);
  const dec = new AutoregressiveDecoder({
    model: lm,
    tokenizer: idTokenizer(V),
    config: { maxNewTokens: o.tokens },
  });
  await dec.generate(prompt.slice(0, 8), { maxNewTokens: 4 }); // warm-up
  const run = await dec.generate(prompt);
  const peakRssMb = statusMb("VmHWM");
  // V(g): a context of `context` tokens, then g new tokens, best of `repeats`.
  const ctx = Array.from({ length: o.context }, (_, i) => (i * 31 + 7) % V);
  await lm.prefill(ctx);
  const forwardMs: Record<string, number> = {};
  for (const g of o.gs) {
    let best = Infinity;
    for (let r = 0; r < o.repeats; r++) {
      lm.rewind(o.context);
      const ids = Array.from({ length: g }, (_, i) => (i * 97 + 5) % V);
      const pos = Array.from({ length: g }, (_, i) => o.context + i);
      const s = performance.now();
      await lm.forward(ids, pos);
      best = Math.min(best, performance.now() - s);
    }
    forwardMs[g] = best;
  }
  const v: Record<string, number> = {};
  for (const g of o.gs) v[g] = forwardMs[g]! / forwardMs[o.gs[0]!]!;
  return {
    model: o.model,
    weights: o.weights,
    threads: o.threads,
    attention: o.attention,
    batchInvariant: lm.batchInvariant,
    cache: lm.cache,
    loadMs,
    rssAfterLoadMb,
    arTokensPerSecond: run.metrics.decodeTokensPerSecond,
    tokens: run.tokens.length,
    forwardMs,
    v,
    peakRssMb,
    peakRssEndMb: statusMb("VmHWM"),
    context: o.context,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      weights: { type: "string", default: "f32" },
      threads: { type: "string", default: String(navigator.hardwareConcurrency) },
      cache: { type: "string" },
      attention: { type: "string", default: "gqa" },
      quantization: { type: "string" },
      "batch-invariant": { type: "boolean" },
      tokens: { type: "string", default: "64" },
      context: { type: "string", default: "256" },
      vg: { type: "string", default: "1,2,4,8,16" },
      repeats: { type: "string", default: "5" },
    },
  });
  if (!values.model) throw new TypeError("--model is required");
  if (!(WEIGHT_PRECISIONS as readonly string[]).includes(values.weights)) {
    throw new TypeError(`--weights must be one of ${WEIGHT_PRECISIONS.join(", ")}`);
  }
  const result = await probe({
    model: values.model,
    weights: values.weights as WeightPrecision,
    threads: Number(values.threads),
    attention: values.attention === "tree" ? "tree" : "gqa",
    batchInvariant: values["batch-invariant"] === true,
    ...(values.quantization ? { quantization: JSON.parse(values.quantization) } : {}),
    cache: values.cache === "off" ? false : values.cache ?? false,
    tokens: Number(values.tokens),
    context: Number(values.context),
    gs: values.vg.split(",").map(Number),
    repeats: Number(values.repeats),
  });
  console.log(JSON.stringify(result));
}
