/**
 * Reading and validating a Hugging Face `config.json`.
 *
 * @module
 */

import { SpecDecError, StatusCode } from "../runtime/errors.ts";

/** Rotary frequency scaling, as Hugging Face computes the inverse frequencies. */
export interface RopeScaling {
  /** `default` (none), `linear` (divide by factor) or `llama3` (Llama 3.1 smooth scaling). */
  type: "default" | "linear" | "llama3";
  /** Scaling factor (1 for `default`). */
  factor: number;
  /** Llama 3.1: low-frequency factor. */
  lowFreqFactor: number;
  /** Llama 3.1: high-frequency factor. */
  highFreqFactor: number;
  /** Llama 3.1: pretraining context length. */
  originalMaxPositionEmbeddings: number;
}

/** The graph family a checkpoint maps to. */
export type ModelFamily = "llama" | "gpt2";

/** A checkpoint's architecture, normalised across model types. */
export interface ModelConfig {
  /** Graph family: `llama` (Llama, Mistral, Qwen2, SmolLM) or `gpt2`. */
  family: ModelFamily;
  /** `model_type` as written in config.json. */
  modelType: string;
  /** Vocabulary size (rows of the embedding). */
  vocabSize: number;
  /** Model width. */
  hiddenSize: number;
  /** MLP width. */
  intermediateSize: number;
  /** Number of decoder layers. */
  numLayers: number;
  /** Number of query heads. */
  numHeads: number;
  /** Number of key/value heads (GQA). */
  numKvHeads: number;
  /** Width of one head. */
  headDim: number;
  /** Largest position the model was built for. */
  maxPositionEmbeddings: number;
  /** Epsilon of the normalisation layers. */
  normEps: number;
  /** Rotary base (llama family). */
  ropeTheta: number;
  /** Rotary frequency scaling (llama family): `default`, `linear` or `llama3`. */
  ropeScaling: RopeScaling;
  /** Whether the LM head shares the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** MLP activation (`silu`, `gelu_new`, ...). */
  hiddenAct: string;
  /** Sliding attention window (Mistral), when set. */
  slidingWindow: number | undefined;
  /** Beginning-of-sequence id, when set. */
  bosTokenId: number | undefined;
  /** End-of-sequence ids (possibly several). */
  eosTokenIds: number[];
}

const LLAMA_TYPES = new Set(["llama", "mistral", "qwen2", "smollm", "smollm2"]);
const LLAMA_ARCHS = new Set([
  "LlamaForCausalLM",
  "MistralForCausalLM",
  "Qwen2ForCausalLM",
]);
const GPT2_ARCHS = new Set(["GPT2LMHeadModel"]);

function fail(path: string, what: string): never {
  throw new SpecDecError(`Invalid config ${path}: ${what}`, StatusCode.IO);
}

function int(
  json: Record<string, unknown>,
  path: string,
  key: string,
  fallback?: number,
): number {
  const v = json[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    fail(path, `"${key}" must be a positive integer, got ${JSON.stringify(json[key])}`);
  }
  return v;
}

function num(json: Record<string, unknown>, path: string, key: string, fallback: number): number {
  const v = json[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    fail(path, `"${key}" must be a positive number, got ${JSON.stringify(json[key])}`);
  }
  return v;
}

function ids(v: unknown): number[] {
  if (typeof v === "number" && Number.isInteger(v)) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === "number");
  return [];
}

/**
 * Validates a parsed config.json and normalises it.
 *
 * @param json The parsed JSON.
 * @param path The file it came from (for error messages).
 * @returns The normalised config.
 * @throws {SpecDecError} When a field is missing or invalid, or the architecture is unsupported (named).
 */
export function parseModelConfig(json: unknown, path = "config.json"): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    fail(path, "expected a JSON object");
  }
  const c = json as Record<string, unknown>;
  const modelType = c.model_type;
  if (typeof modelType !== "string") fail(path, `"model_type" is missing`);
  const archs = Array.isArray(c.architectures) ? c.architectures.map(String) : [];
  const arch = archs[0];
  let family: ModelFamily;
  if (modelType === "gpt2" && (arch === undefined || GPT2_ARCHS.has(arch))) family = "gpt2";
  else if (LLAMA_TYPES.has(modelType) && (arch === undefined || LLAMA_ARCHS.has(arch))) {
    family = "llama";
  } else {
    throw new SpecDecError(
      `Unsupported architecture in ${path}: model_type "${modelType}"` +
        (arch ? `, architectures ["${archs.join('", "')}"]` : "") +
        ` (supported: llama, mistral, qwen2, smollm, gpt2)`,
      StatusCode.INVALID_ARGUMENT,
    );
  }
  const bos = c.bos_token_id;
  const sw = c.sliding_window;
  const common = {
    modelType,
    slidingWindow: typeof sw === "number" && sw > 0 && c.use_sliding_window !== false
      ? sw
      : undefined,
    bosTokenId: typeof bos === "number" ? bos : undefined,
    eosTokenIds: ids(c.eos_token_id),
  };
  if (family === "gpt2") {
    const hiddenSize = int(c, path, "n_embd");
    const numHeads = int(c, path, "n_head");
    if (hiddenSize % numHeads !== 0) {
      fail(path, `n_embd ${hiddenSize} not divisible by n_head ${numHeads}`);
    }
    return {
      ...common,
      family,
      vocabSize: int(c, path, "vocab_size"),
      hiddenSize,
      intermediateSize: c.n_inner == null ? 4 * hiddenSize : int(c, path, "n_inner"),
      numLayers: int(c, path, "n_layer"),
      numHeads,
      numKvHeads: numHeads,
      headDim: hiddenSize / numHeads,
      maxPositionEmbeddings: int(c, path, "n_positions"),
      normEps: num(c, path, "layer_norm_epsilon", 1e-5),
      ropeTheta: 0,
      ropeScaling: {
        type: "default",
        factor: 1,
        lowFreqFactor: 1,
        highFreqFactor: 1,
        originalMaxPositionEmbeddings: 0,
      },
      tieWordEmbeddings: c.tie_word_embeddings !== false,
      hiddenAct: String(c.activation_function ?? "gelu_new"),
    };
  }
  const hiddenSize = int(c, path, "hidden_size");
  const numHeads = int(c, path, "num_attention_heads");
  const numKvHeads = int(c, path, "num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0) {
    fail(
      path,
      `num_attention_heads ${numHeads} not divisible by num_key_value_heads ${numKvHeads}`,
    );
  }
  const headDim = c.head_dim == null ? hiddenSize / numHeads : int(c, path, "head_dim");
  if (!Number.isInteger(headDim)) fail(path, `hidden_size ${hiddenSize} not divisible by heads`);
  const rope = (c.rope_scaling ?? c.rope_parameters ?? null) as Record<string, unknown> | null;
  const ropeType = rope && typeof rope === "object"
    ? (rope.rope_type ?? rope.type ?? "default")
    : "default";
  if (ropeType !== "default" && ropeType !== "linear" && ropeType !== "llama3") {
    throw new SpecDecError(
      `Unsupported rope scaling in ${path}: rope_type "${
        String(ropeType)
      }" (supported: default, linear, llama3)`,
      StatusCode.INVALID_ARGUMENT,
    );
  }
  const rp = (rope ?? {}) as Record<string, unknown>;
  const ropeNum = (key: string, fallback: number): number => num(rp, path, key, fallback);
  const ropeScaling: RopeScaling = {
    type: ropeType,
    factor: ropeType === "default" ? 1 : ropeNum("factor", NaN),
    lowFreqFactor: ropeType === "llama3" ? ropeNum("low_freq_factor", NaN) : 1,
    highFreqFactor: ropeType === "llama3" ? ropeNum("high_freq_factor", NaN) : 1,
    originalMaxPositionEmbeddings: ropeType === "llama3"
      ? ropeNum("original_max_position_embeddings", NaN)
      : 0,
  };
  const ropeTheta = typeof c.rope_theta === "number"
    ? c.rope_theta
    : typeof rp.rope_theta === "number"
    ? rp.rope_theta
    : c.rope_parameters &&
        typeof (c.rope_parameters as Record<string, unknown>).rope_theta === "number"
    ? (c.rope_parameters as Record<string, number>).rope_theta!
    : 10000;
  const act = String(c.hidden_act ?? "silu");
  if (act !== "silu" && act !== "swish") {
    throw new SpecDecError(
      `Unsupported hidden_act "${act}" in ${path} (supported: silu)`,
      StatusCode.INVALID_ARGUMENT,
    );
  }
  return {
    ...common,
    family,
    vocabSize: int(c, path, "vocab_size"),
    hiddenSize,
    intermediateSize: int(c, path, "intermediate_size"),
    numLayers: int(c, path, "num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: int(c, path, "max_position_embeddings", 2048),
    normEps: num(c, path, "rms_norm_eps", 1e-6),
    ropeTheta,
    ropeScaling,
    tieWordEmbeddings: c.tie_word_embeddings === true,
    hiddenAct: act,
  };
}

/**
 * Reads `<dir>/config.json`.
 *
 * @param dir Checkpoint directory.
 * @returns The normalised config.
 * @throws {SpecDecError} When the file is missing, not JSON, or invalid (the path is named).
 */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const path = `${dir}/config.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new SpecDecError(`Cannot read ${path}: ${(cause as Error).message}`, StatusCode.IO, {
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SpecDecError(
      `Malformed JSON in ${path}: ${(cause as Error).message}`,
      StatusCode.IO,
      { cause },
    );
  }
  return parseModelConfig(json, path);
}
