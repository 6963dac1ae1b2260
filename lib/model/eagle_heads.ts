/**
 * `EagleHeads`: an EAGLE-1 head (from `models/<base>/eagle/`) as a small
 * ONNX Runtime session with its own in-place KV cache, implementing
 * {@linkcode FeatureDrafter}.
 *
 * Layout read: `eagle/config.json` with `architecture: "eagle-1"`,
 * `base_model` (the base checkpoint relative to the head, default `..`),
 * `hidden_size`, `vocab_size`, `num_attention_heads`, `num_key_value_heads`,
 * `head_dim`, `intermediate_size`, `rms_norm_eps`, `rope_theta`,
 * `max_position_embeddings`, `shares_base_lm_head` / `shares_base_embeddings`
 * (true); `eagle/model.safetensors` (f16 or f32) with `fc.weight` `[H, 2H]`,
 * optional `fc.bias` `[H]`, one Llama layer `layers.0.*` (the input norm
 * optional) and an optional `norm.weight` `[H]`. The embedding and the LM head
 * are read from the base checkpoint. The graph: {@link ./graph/eagle.ts}.
 *
 * @module
 */

import type { DrafterForwardOptions, DrafterResult, FeatureDrafter } from "./language_model.ts";
import { type ModelConfig, readModelConfig } from "./config.ts";
import { SafeTensors } from "./safetensors.ts";
import { openWeights } from "./_weights.ts";
import { buildEagleGraph } from "./graph/eagle.ts";
import { MASKED } from "./graph/decoder_graph.ts";
import { openGraph } from "./_open_graph.ts";
import { resolveLinearKernel } from "./_linear_kernel.ts";
import type { ActivationPrecision, LinearKernel } from "./graph/decoder_graph.ts";
import { usesCustomOps } from "./graph/_layers.ts";
import { BLOCKING_ROWS } from "./_blocking_rows.ts";
import { kvKeep } from "../runtime/kv_keep.ts";
import type { Session } from "../runtime/session.ts";
import { type Tensor, tensor } from "../runtime/tensor.ts";
import { checkIds, checkKeepSlots, checkPositions } from "./_checks.ts";
import {
  checkActivationsOption,
  checkWeightsOption,
  type WeightPrecision,
} from "./graph/quantize_blockwise.ts";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";
import { resolveModelPath } from "./hub/resolve_model.ts";
import { resolveHeadsBase } from "./hub/_resolve_base.ts";

/** Options of {@linkcode EagleHeads.load}. */
export interface EagleHeadsOptions {
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads?: number;
  /**
   * Base checkpoint directory (default: `base_model` of the head's config, else `..`; for a head
   * fetched by hub id, that folder of the same repository, fetched at the same commit).
   */
  base?: string;
  /**
   * KV capacity in rows: the target's context plus the largest draft tree
   * (default: 1088, or less when `max_position_embeddings` is smaller).
   */
  maxLength?: number;
  /**
   * Precision of the head's projections and of its copy of the LM head: `f32` (default; the
   * base's LM head is shared as is), `q8` or `q4` (block-wise quantized copies, as for the target).
   */
  weights?: WeightPrecision;
  /**
   * The projections' kernel, as `CausalLMOptions.linear`: `gemm` (default; one-row head
   * forwards measured no faster with the packed kernels and f32 activations on the bench pair)
   * or `packed` (the default with `activations: "int8"` where its AVX-512 kernels run). An f32
   * LM head always stays the base's matrix under Gemm.
   */
  linear?: LinearKernel;
  /**
   * Activations of the q8/q4 projections, as `CausalLMOptions.activations`: `f32` (default) or
   * `int8` (the head's numerics never change EAGLE's output), which makes `linear` default to
   * `packed` where its AVX-512 kernels run (measured on the bench pair, q4 head, EAGLE chain K=3
   * + lookup 32: 1.99x -> 2.17x autoregressive). MatMulNBits (`linear: "gemm"`) multiplies
   * forwards of several rows in int8 either way (one row in f32).
   */
  activations?: ActivationPrecision;
}

/** The head's architecture as read from its config. */
export interface EagleHeadConfig {
  /** Width H (must equal the base's hidden size). */
  hiddenSize: number;
  /** Vocabulary V (must equal the base's). */
  vocabSize: number;
  /** Query heads. */
  numHeads: number;
  /** Key/value heads. */
  kvHeads: number;
  /** Head width. */
  headDim: number;
  /** MLP width. */
  intermediateSize: number;
  /** RMS norm epsilon. */
  normEps: number;
  /** Rotary base. */
  ropeTheta: number;
  /** Largest position. */
  maxPositionEmbeddings: number;
  /** The base directory the config names (resolved against the head's directory). */
  baseDir: string;
}

function invalid(path: string, what: string): never {
  throw new SpecDecError(`Invalid EAGLE config ${path}: ${what}`, StatusCode.IO);
}

function int(c: Record<string, unknown>, key: string, path: string, fallback?: number): number {
  const v = c[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    invalid(path, `"${key}" must be a positive integer`);
  }
  return v;
}

function num(c: Record<string, unknown>, key: string, path: string, fallback: number): number {
  const v = c[key] ?? fallback;
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    invalid(path, `"${key}" must be a positive number`);
  }
  return v;
}

/**
 * Reads and validates an EAGLE head's `config.json`.
 *
 * @param dir The head's directory.
 * @returns The normalised config.
 * @throws {SpecDecError} When unreadable or malformed (the path and the field are named).
 */
export async function readEagleConfig(dir: string): Promise<EagleHeadConfig> {
  const path = `${dir}/config.json`;
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(await Deno.readTextFile(path));
  } catch (cause) {
    throw new SpecDecError(
      `Cannot read EAGLE config ${path}: ${(cause as Error).message}`,
      StatusCode.IO,
      { cause },
    );
  }
  if (c === null || typeof c !== "object" || Array.isArray(c)) invalid(path, "not a JSON object");
  if (c.architecture !== undefined && c.architecture !== "eagle-1") {
    throw new SpecDecError(
      `Unsupported EAGLE config ${path}: architecture ${
        JSON.stringify(c.architecture)
      } (supported: "eagle-1")`,
      StatusCode.IO,
    );
  }
  for (const key of ["shares_base_lm_head", "shares_base_embeddings"]) {
    if (c[key] === false) {
      throw new SpecDecError(
        `Unsupported EAGLE config ${path}: ${key} false (supported: heads sharing the base's)`,
        StatusCode.IO,
      );
    }
  }
  const H = int(c, "hidden_size", path);
  const NH = int(c, "num_attention_heads", path);
  const headDim = int(c, "head_dim", path, Math.floor(H / NH));
  if (headDim % 2 !== 0) invalid(path, `"head_dim" ${headDim} must be even (rotary)`);
  const rel = typeof c.base_model === "string" ? c.base_model : "..";
  return {
    hiddenSize: H,
    vocabSize: int(c, "vocab_size", path),
    numHeads: NH,
    kvHeads: int(c, "num_key_value_heads", path, NH),
    headDim,
    intermediateSize: int(c, "intermediate_size", path),
    normEps: num(c, "rms_norm_eps", path, 1e-6),
    ropeTheta: num(c, "rope_theta", path, 10000),
    maxPositionEmbeddings: int(c, "max_position_embeddings", path, 2048),
    baseDir: rel.startsWith("/") ? rel : `${dir}/${rel}`,
  };
}

/**
 * An EAGLE-1 head over a base model's features, with its own KV cache
 * `[1, kvHeads, maxLength, headDim]` f32 bound in place. One FFI call per forward.
 *
 * @example Draft logits after the prompt
 * ```ts
 * import { CausalLM, EagleHeads } from "@specdec/specdec";
 * using base = await CausalLM.load("models/tiny-target", { maxLength: 64 });
 * using head = await EagleHeads.load("models/tiny-target/eagle", { maxLength: 64 });
 * const ids = [5, 6, 7];
 * const { logits, hidden } = await base.prefill(ids, { hidden: true });
 * const next = 42; // the token chosen from logits
 * const out = await head.forward([6, 7, next], hidden!, [0, 1, 2], { logitRows: [2] });
 * // out.logits [1, vocab] f32: the draft of the token after `next`
 * if (out.logits.length !== head.vocabSize) throw new Error("unexpected");
 * ```
 */
export class EagleHeads implements FeatureDrafter, Disposable {
  /** The head's config. */
  readonly config: EagleHeadConfig;
  /** Logits per row (the base's vocabulary). */
  readonly vocabSize: number;
  /** Feature width (the base's hidden size). */
  readonly hiddenSize: number;
  /** KV capacity in rows. */
  readonly maxLength: number;
  /** The head's directory. */
  readonly path: string;
  #session: Session | undefined;
  #kv: Float32Array[]; // [2][1, kvHeads, maxLength, headDim] f32 (key, value)
  #kvLength = 0;
  #busy = false;

  /** @ignore */
  private constructor(
    path: string,
    config: EagleHeadConfig,
    maxLength: number,
    session: Session,
    kv: Float32Array[],
  ) {
    this.path = path;
    this.config = config;
    this.vocabSize = config.vocabSize;
    this.hiddenSize = config.hiddenSize;
    this.maxLength = maxLength;
    this.#session = session;
    this.#kv = kv;
  }

  /**
   * Reads the head, the base's embedding and LM head, and opens the head's session.
   *
   * @param dir The `eagle/` directory, or a hub id (`org/name/eagle`, optionally `@revision`)
   *   fetched from `HF_ENDPOINT` into the Hugging Face cache.
   * @param options Threads, base directory and KV capacity.
   * @returns The head, with an empty cache.
   * @throws {SpecDecError} When a file is missing or malformed, or the head does not fit the base (both named).
   * @throws {RangeError} When an option is out of range.
   */
  static async load(dir: string, options: EagleHeadsOptions = {}): Promise<EagleHeads> {
    if (typeof dir !== "string" || dir === "") {
      throw new TypeError("dir must be a non-empty string");
    }
    const threads = options.threads ?? navigator.hardwareConcurrency;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`threads must be a positive integer, got ${threads}`);
    }
    checkWeightsOption(options.weights, "weights");
    checkActivationsOption(options.activations, options.weights);
    // With int8 activations the packed kernels are the faster ones where they run (AVX-512).
    const linear = resolveLinearKernel(options.linear, options.activations === "int8");
    const arg = dir;
    dir = await resolveModelPath(dir, "eagle"); // a folder, or a hub id fetched into the HF cache
    const config = await readEagleConfig(dir);
    const maxLength = options.maxLength ?? Math.min(1088, config.maxPositionEmbeddings);
    if (!Number.isInteger(maxLength) || maxLength < 1) {
      throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
    }
    const baseDir = options.base ?? await resolveHeadsBase(arg, dir, config.baseDir);
    const base = await readModelConfig(baseDir);
    const H = config.hiddenSize;
    const V = config.vocabSize;
    if (base.hiddenSize !== H || base.vocabSize !== V) {
      throw new SpecDecError(
        `EAGLE head ${dir} (hidden ${H}, vocab ${V}) does not fit the base ${baseDir} (hidden ${base.hiddenSize}, vocab ${base.vocabSize})`,
        StatusCode.INVALID_ARGUMENT,
      );
    }
    const headWeights = await SafeTensors.open(`${dir}/model.safetensors`);
    const { embed, lmHead } = await baseMatrices(baseDir, base);
    const graph = buildEagleGraph(
      {
        hiddenSize: H,
        vocabSize: V,
        numHeads: config.numHeads,
        kvHeads: config.kvHeads,
        headDim: config.headDim,
        intermediateSize: config.intermediateSize,
        normEps: config.normEps,
        ropeTheta: config.ropeTheta,
      },
      headWeights,
      embed,
      lmHead,
      {
        maxLength,
        linear,
        ...(options.weights !== undefined ? { weights: options.weights } : {}),
        ...(options.activations === "int8" ? { activations: "int8" as const } : {}),
      },
    );
    const session = await openGraph(graph, {
      intraOpThreads: threads,
      interOpThreads: 1,
      spinning: false,
      customOps: usesCustomOps({ maxLength, linear, weights: options.weights ?? "f32" }),
    });
    const shape = [1, config.kvHeads, maxLength, config.headDim];
    const k = tensor("float32", shape); // [1, kvHeads, maxLength, headDim] f32
    const v = tensor("float32", shape); // [1, kvHeads, maxLength, headDim] f32
    try {
      session.bindInput("past_key.0", k);
      session.bindInput("past_value.0", v);
      session.bindOutput("present_key.0", k);
      session.bindOutput("present_value.0", v);
    } catch (e) {
      session.close();
      throw e;
    }
    return new EagleHeads(dir, config, maxLength, session, [k.data, v.data]);
  }

  /** Number of cached rows: the next forward writes at this slot. */
  get kvLength(): number {
    return this.#kvLength;
  }

  /**
   * Appends `S` rows at slots `[kvLength, kvLength + S)` in one forward pass.
   *
   * @param ids Token after each feature `[S]`.
   * @param features Features `[S, hiddenSize]` f32 (the base's hidden states, or this head's predictions).
   * @param positions Position of each row `[S]`.
   * @param options Tree mask over slots from `maskStart`, and which rows get logits.
   * @returns Predicted features `[S, hiddenSize]` and logits `[R, vocabSize]`, owned by the caller.
   */
  async forward(
    ids: ArrayLike<number>,
    features: Float32Array,
    positions: ArrayLike<number>,
    options: DrafterForwardOptions = {},
  ): Promise<DrafterResult> {
    if (!this.#session) {
      throw new SpecDecError(`EagleHeads ${this.path} is closed`, StatusCode.STATE);
    }
    const session = this.#session;
    const S = ids.length;
    const P = this.#kvLength;
    const H = this.hiddenSize;
    checkIds(ids, this.vocabSize, "ids");
    if (!(features instanceof Float32Array)) throw new TypeError("features must be a Float32Array");
    if (features.length !== S * H) {
      throw new RangeError(
        `features has ${features.length} values, expected S * hiddenSize = ${S * H}`,
      );
    }
    if (positions.length !== S) {
      throw new RangeError(`positions has ${positions.length} entries, ids has ${S}`);
    }
    if (P + S > this.maxLength) {
      throw new RangeError(
        `Sequence too long: ${P} cached + ${S} new = ${
          P + S
        } rows exceeds maxLength ${this.maxLength}`,
      );
    }
    checkPositions(positions, this.maxLength);
    const T = P + S;
    const start = options.maskStart ?? P;
    if (!Number.isInteger(start) || start < 0 || start > P) {
      throw new RangeError(`maskStart must be an integer in [0, ${P}], got ${start}`);
    }
    const W = T - start;
    const mask = options.treeMask;
    if (mask !== undefined) {
      if (!(mask instanceof Uint8Array)) throw new TypeError("treeMask must be a Uint8Array");
      if (mask.length !== S * W) {
        throw new RangeError(
          `treeMask has ${mask.length} entries, expected ${S} x ${W} = ${S * W}`,
        );
      }
      for (let i = 0; i < S; i++) {
        if (!mask[i * W + P - start + i]) {
          throw new RangeError(`treeMask row ${i} must see its own slot ${P + i}`);
        }
      }
    }
    const rowsIn = options.logitRows ?? Array.from({ length: S }, (_, i) => i);
    const R = rowsIn.length;
    if (R < 1) throw new RangeError("logitRows must not be empty");
    const rows = new BigInt64Array(R); // [R] i64
    for (let r = 0; r < R; r++) {
      const v = rowsIn[r]!;
      if (!Number.isInteger(v) || v < 0 || v >= S) {
        throw new RangeError(`logitRows[${r}] = ${v} is not a row in [0, ${S})`);
      }
      rows[r] = BigInt(v);
    }
    if (this.#busy) {
      throw new SpecDecError(
        `EagleHeads ${this.path}: a forward is already running`,
        StatusCode.STATE,
      );
    }
    const inputIds = new BigInt64Array(S); // [S] i64
    const positionIds = new BigInt64Array(S); // [1, S] i64
    for (let i = 0; i < S; i++) {
      inputIds[i] = BigInt(ids[i]!);
      positionIds[i] = BigInt(positions[i]!);
    }
    const bias = new Float32Array(S * T); // [1, 1, S, T] f32
    for (let i = 0; i < S; i++) {
      const row = i * T;
      if (mask) {
        for (let j = 0; j < W; j++) if (!mask[i * W + j]) bias[row + start + j] = MASKED;
      }
      bias.fill(MASKED, row + P + i + 1, row + T); // never a later row
    }
    const hidden = new Float32Array(S * H); // [S, H] f32
    const logits = new Float32Array(R * this.vocabSize); // [R, V] f32
    const feats = features.slice(); // [S, H] f32, kept alive for the nonblocking call
    const outputs: Record<string, Tensor> = {
      hidden: { dtype: "float32", dims: [S, H], data: hidden },
      logits: { dtype: "float32", dims: [R, this.vocabSize], data: logits },
    };
    this.#busy = true;
    try {
      await session.run(
        {
          input_ids: { dtype: "int64", dims: [S], data: inputIds },
          features: { dtype: "float32", dims: [S, H], data: feats },
          position_ids: { dtype: "int64", dims: [1, S], data: positionIds },
          seqlens_k: { dtype: "int32", dims: [1], data: new Int32Array([T - 1]) },
          total_sequence_length: { dtype: "int32", dims: [1], data: new Int32Array([T]) },
          attention_bias: { dtype: "float32", dims: [1, 1, S, T], data: bias },
          logit_rows: { dtype: "int64", dims: [R], data: rows },
        },
        outputs,
        { blocking: S <= BLOCKING_ROWS },
      );
    } finally {
      this.#busy = false;
    }
    this.#kvLength = T;
    return { hidden, logits };
  }

  /**
   * Drops cached rows past `length` (nothing moves).
   *
   * @param length New `kvLength`, `0 <= length <= kvLength`.
   */
  rewind(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.#kvLength) {
      throw new RangeError(`length must be an integer in [0, ${this.#kvLength}], got ${length}`);
    }
    this.#kvLength = length;
  }

  /**
   * Compacts kept rows in place with one native call.
   *
   * @param slots Absolute slots to keep, strictly increasing, `< kvLength`.
   */
  keep(slots: ArrayLike<number>): void {
    if (!this.#session) {
      throw new SpecDecError(`EagleHeads ${this.path} is closed`, StatusCode.STATE);
    }
    if (this.#busy) {
      throw new SpecDecError(`EagleHeads ${this.path}: a forward is running`, StatusCode.STATE);
    }
    const s = checkKeepSlots(slots, this.#kvLength); // [n] i32
    const c = this.config;
    kvKeep(this.#kv, { rows: c.kvHeads, maxLength: this.maxLength, rowElems: c.headDim }, s, s[0]!);
    this.#kvLength = s[0]! + s.length;
  }

  /** Empties the cache. */
  reset(): void {
    this.#kvLength = 0;
  }

  /** Frees the session (idempotent). */
  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }

  /** Same as {@linkcode EagleHeads.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The base's embedding `[V, H]` and LM head `[V, H]` f32 (the same array when tied). */
async function baseMatrices(
  baseDir: string,
  base: ModelConfig,
): Promise<{ embed: Float32Array; lmHead: Float32Array }> {
  const H = base.hiddenSize;
  const V = base.vocabSize;
  using bw = await openWeights(baseDir);
  const embedName = base.family === "gpt2"
    ? (bw.has("transformer.wte.weight") ? "transformer.wte.weight" : "wte.weight")
    : "model.embed_tokens.weight";
  const embed = bw.float32(embedName, [V, H]); // [V, H] f32
  const lmHead = bw.has("lm_head.weight") && !base.tieWordEmbeddings
    ? bw.float32("lm_head.weight", [V, H]) // [V, H] f32
    : embed;
  return { embed, lmHead };
}
