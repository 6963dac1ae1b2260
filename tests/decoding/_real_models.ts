/**
 * Loading of the committed checkpoints for the end-to-end decoder tests and
 * the acceptance benchmark.
 *
 * @module
 */

import type { WeightPrecision } from "../../lib/model/graph/quantize_blockwise.ts";
import { CausalLM, type CausalLMOptions } from "../../lib/model/causal_lm.ts";
import { MedusaHeads } from "../../lib/model/medusa_heads.ts";
import { Tokenizer } from "../../lib/model/tokenizer.ts";

/** Repository root. */
export const ROOT: string = new URL("../../", import.meta.url).pathname;

/** A target/draft pair of checkpoint directories (relative to the root). */
export interface Pair {
  /** Label for test names. */
  name: string;
  /** Target directory. */
  target: string;
  /** Draft directory. */
  draft: string;
  /** Medusa heads directory, if the target has them. */
  medusa?: string;
}

/** The committed tiny pairs. */
export const TINY_PAIRS: Pair[] = [
  {
    name: "llama",
    target: "models/tiny-target",
    draft: "models/tiny-draft",
    medusa: "models/tiny-target/medusa",
  },
  { name: "gpt2", target: "models/tiny-gpt2-target", draft: "models/tiny-gpt2-draft" },
];

/** Whether a checkpoint directory exists with weights. */
export function hasCheckpoint(dir: string): boolean {
  try {
    return Deno.statSync(`${ROOT}${dir}/model.safetensors`).isFile;
  } catch {
    return false;
  }
}

/** Held-out prompts (text) from `tests/fixtures/prompts.json`, code first. */
export function heldOutPrompts(kind?: "code" | "prose"): string[] {
  const json = JSON.parse(Deno.readTextFileSync(`${ROOT}tests/fixtures/prompts.json`)) as {
    prompts: Array<{ kind: string; text: string }>;
  };
  return json.prompts.filter((p) => kind === undefined || p.kind === kind).map((p) => p.text);
}

/** Loads a tokenizer and a model. */
export async function loadModel(
  dir: string,
  maxLength: number,
  threads = 1,
  weights: WeightPrecision = "f32",
  options: CausalLMOptions = {},
): Promise<CausalLM> {
  return await CausalLM.load(`${ROOT}${dir}`, { maxLength, threads, weights, ...options });
}

/**
 * Loads a draft model as the CLI does: one-token forwards unpadded and, at q8/q4, int8
 * activations (a draft's numerics never change the output).
 */
export async function loadDraft(
  dir: string,
  maxLength: number,
  threads = 1,
  weights: WeightPrecision = "f32",
): Promise<CausalLM> {
  const activations = weights === "f32" ? {} : { activations: "int8" as const };
  return await loadModel(dir, maxLength, threads, weights, {
    batchInvariant: false,
    ...activations,
  });
}

/** The weight precisions every lossless-decoding test runs at. */
export const PRECISIONS: readonly WeightPrecision[] = ["f32", "q8", "q4"];

/** Loads the tokenizer of a checkpoint. */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  return await Tokenizer.load(`${ROOT}${dir}`);
}

/** Loads Medusa heads. */
export async function loadHeads(
  dir: string,
  threads = 1,
  weights: WeightPrecision = "f32",
): Promise<MedusaHeads> {
  return await MedusaHeads.load(`${ROOT}${dir}`, { threads, weights });
}

/** Whether a Medusa heads directory exists with weights. */
export function hasHeads(dir: string | undefined): dir is string {
  return dir !== undefined && hasCheckpoint(dir);
}
