/**
 * `CausalLM`: a Hugging Face checkpoint running on ONNX Runtime with a static,
 * in-place KV cache, implementing {@linkcode LanguageModel}.
 *
 * @module
 */

import type { ForwardOptions, ForwardResult, LanguageModel } from "./language_model.ts";
import { type ModelConfig, readModelConfig } from "./config.ts";
import { type AttentionKind, MASKED } from "./graph/decoder_graph.ts";
import { kvKeep } from "../runtime/kv_keep.ts";
import type { Session } from "../runtime/session.ts";
import { type Tensor, tensor } from "../runtime/tensor.ts";
import { openDecoderSession } from "./_decoder_session.ts";
import type { CacheStatus, PreparedShapes } from "./prepared_cache.ts";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";
import { resolveModelPath } from "./hub/resolve_model.ts";
import { checkIds, checkKeepSlots, checkPositions, checkTreeMask } from "./_checks.ts";
import {
  checkActivationsOption,
  checkWeightsOption,
  type WeightPrecision,
} from "./graph/quantize_blockwise.ts";
import type {
  ActivationPrecision,
  LinearKernel,
  QuantizationOptions,
} from "./graph/decoder_graph.ts";
import { usesCustomOps } from "./graph/_layers.ts";
import { BLOCKING_ROWS } from "./_blocking_rows.ts";
import { resolveLinearKernel } from "./_linear_kernel.ts";

/** Options of {@linkcode CausalLM.load}. */
export interface CausalLMOptions {
  /**
   * KV capacity in tokens: prompt + generation + speculation, up to `max_position_embeddings`
   * (default: 1024, or less when max_position_embeddings is smaller). A sliding window
   * (Mistral) does not limit it: attention is masked to the window, as in transformers.
   */
  maxLength?: number;
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads?: number;
  /**
   * Let idle ONNX Runtime threads spin (default false: measured on 2 busy cores, spinning
   * threads made decode up to 2x slower, and draft and target sessions alternate).
   */
  spinning?: boolean;
  /**
   * Attention operator: `gqa` (ONNX Runtime's GroupQueryAttention) or `tree` (specdec's
   * TreeAttention op, whose result for a tree node equals the same token's in a chain bit for
   * bit). Default: `tree` on CUDA and for q8/q4 weights (where the exactness of tree
   * verification needs it), else `gqa`; sliding-window models use `gqa`.
   */
  attention?: AttentionKind;
  /**
   * Run on this CUDA device (ONNX Runtime's CUDA provider; `SpecDecError` code `UNAVAILABLE`
   * where there is none). Attention then defaults to `tree`: CUDA GroupQueryAttention rejects
   * `attention_bias`.
   */
  cudaDevice?: number;
  /** Where rotary is applied (default: inside attention when the head width allows). */
  rotary?: "attention" | "graph";
  /**
   * Precision of the projection weights and the LM head (default `f32`): `q8` / `q4` quantize
   * block-wise at load time into ONNX Runtime's `MatMulNBits` (block 32, symmetric, int8
   * activations), the embedding table too (`GatherBlockQuantized`, sharing a tied LM head's
   * bytes). Losslessness of speculative decoding is relative to the model at this precision.
   */
  weights?: WeightPrecision;
  /** Quantization details, for measurements (defaults are the measured best). */
  quantization?: QuantizationOptions;
  /**
   * The projections' kernel: `packed` (specdec's `PackedLinear` over f32 weights stored in
   * column panels, or `PackedLinearQ` over q8/q4 weights in the same panels: one pass over the
   * weights serves up to 8 rows, so verifying a few draft tokens costs little more than one
   * token, and a row's result never depends on how many rows its forward carries) or `gemm`
   * (ONNX Runtime's Gemm at f32, MatMulNBits at q8/q4). Default: `packed` on CPUs with AVX-512
   * (`cpuKernelLevel()` 4), `gemm` elsewhere and on CUDA. A tied LM head at q8/q4 stays MatMulNBits (measured faster for one row, no second
   * copy); quantization options other than symmetric blocks of 32 use MatMulNBits.
   */
  linear?: LinearKernel;
  /**
   * Activations of the q8/q4 packed projections: `f32` (default: each weight dequantized, exact
   * multiply-adds) or `int8` (each row quantized per block of 32 inputs and multiplied in
   * integers, as llama.cpp does: about 4x faster projections with AVX-512 VNNI, portable C
   * elsewhere, the same bits on every CPU). For drafters: a speculative decoder's output never
   * depends on its draft's numerics, and the CLI runs q8/q4 drafts so. Needs `weights` q8 or q4;
   * with `linear: "gemm"` (MatMulNBits, its own activation rules) it changes nothing.
   *
   * @example A q4 draft with int8 activations
   * ```ts
   * import { CausalLM } from "@specdec/specdec";
   *
   * using draft = await CausalLM.load("models/tiny-draft", {
   *   weights: "q4",
   *   activations: "int8",
   *   maxLength: 64,
   * });
   * const { logits } = await draft.prefill([1, 2, 3], { logits: "last" }); // [1, vocab] f32
   * if (logits.length !== draft.vocabSize) throw new Error("unexpected");
   * ```
   */
  activations?: ActivationPrecision;
  /**
   * Run every one-token forward as a two-row forward (the second row a discarded copy in a
   * spare KV slot), so a token's logits never depend on how many tokens its forward carries.
   * ONNX Runtime's kernels take another path for a single row: `MatMulNBits` computes it with
   * f32 activations and several rows with int8 ones (logits differ by up to 0.15 at q4), f32
   * Gemm by about 1e-5. A speculative target must verify with the numerics it decodes with,
   * so this is on by default at q8/q4 (measured cost: a two-row forward is 1.0-1.3x a
   * one-row one); at f32 it is off by default. A draft model does not need it.
   */
  batchInvariant?: boolean;
  /**
   * The prepared-model cache: the converted graph and weights are kept in a folder so later
   * loads skip the conversion and ONNX Runtime reads the weights from the file (default: on,
   * under `SPECDEC_CACHE`, else `$XDG_CACHE_HOME/specdec` or `~/.cache/specdec`; `false`: off;
   * a string: that folder). An unwritable folder only costs a warning line.
   */
  cache?: boolean | string;
}

/** New tokens one forward of the `specdec.TreeAttention` op takes (`SD_TA_MAX_SEQ`). */
const TREE_ATTENTION_MAX_NEW = 64;

/**
 * A causal LM over ONNX Runtime. One FFI call per forward; the per-layer KV
 * buffers `[1, kvHeads, maxLength, headDim]` f32 are allocated once and bound
 * to the session as both past and present, so K/V are written in place.
 *
 * @example Greedy continuation
 * ```ts
 * import { argmax, CausalLM } from "@specdec/specdec";
 * using lm = await CausalLM.load("models/tiny-target", { maxLength: 256 });
 * const { logits } = await lm.prefill([1, 2, 3]); // [3, vocab] f32
 * const next = argmax(logits.subarray(2 * lm.vocabSize)); // the token after 3
 * await lm.forward([next], [3]);
 * if (lm.kvLength !== 4) throw new Error("unexpected");
 * ```
 */
export class CausalLM implements LanguageModel, Disposable {
  /** The checkpoint's normalised config. */
  readonly config: ModelConfig;
  /** Number of logits per position. */
  readonly vocabSize: number;
  /** Width of the hidden states. */
  readonly hiddenSize: number;
  /** KV capacity in tokens. */
  readonly maxLength: number;
  /** Checkpoint directory. */
  readonly path: string;
  /**
   * Where the graph came from: `hit` (prepared-model cache), `built` / `rebuilt` (converted
   * now, into the cache), `off` (cache disabled) or `unavailable` (cache folder unwritable).
   */
  readonly cache: CacheStatus;
  #kvLength = 0;
  #session: Session | undefined;
  #kv: Float32Array[]; // [2 * layers][1, kvHeads, slots, headDim] f32 (key, value per layer)
  #kvLayout: { rows: number; maxLength: number; rowElems: number }; // of each #kv buffer
  #busy = false;
  #treeOp = false;
  /** The attention operator the graph runs ({@linkcode CausalLMOptions.attention}). */
  readonly attention: AttentionKind;
  /** Whether one-token forwards run padded to two rows ({@linkcode CausalLMOptions.batchInvariant}). */
  readonly batchInvariant: boolean;
  /** The projections' kernel ({@linkcode CausalLMOptions.linear}). */
  readonly linear: LinearKernel;

  /** @ignore */
  private constructor(
    path: string,
    config: ModelConfig,
    graph: PreparedShapes,
    session: Session,
    kv: Float32Array[],
    cache: CacheStatus,
    treeOp: boolean,
    maxLength: number,
    batchInvariant: boolean,
    linear: LinearKernel,
  ) {
    this.path = path;
    this.cache = cache;
    this.#treeOp = treeOp;
    this.attention = treeOp ? "tree" : "gqa";
    this.config = config;
    this.vocabSize = config.vocabSize;
    this.hiddenSize = config.hiddenSize;
    this.maxLength = maxLength;
    this.batchInvariant = batchInvariant;
    this.linear = linear;
    this.#kvLayout = { rows: graph.kvHeads, maxLength: graph.maxLength, rowElems: graph.headDim };
    this.#session = session;
    this.#kv = kv;
  }

  /**
   * Loads a checkpoint directory (`config.json`, `model.safetensors` or a
   * sharded index), builds its graph and opens an ONNX Runtime session.
   *
   * @param dir Checkpoint directory.
   * @param options KV capacity, threads, attention operator.
   * @returns The model, with an empty cache.
   * @throws {SpecDecError} When a file is missing or malformed, or the architecture is unsupported.
   * @throws {RangeError} When an option is out of range.
   */
  static async load(dir: string, options: CausalLMOptions = {}): Promise<CausalLM> {
    if (typeof dir !== "string" || dir === "") {
      throw new TypeError("dir must be a non-empty string");
    }
    checkWeightsOption(options.weights, "weights");
    checkActivationsOption(options.activations, options.weights);
    const linear = resolveLinearKernel(options.linear, options.cudaDevice === undefined);
    dir = await resolveModelPath(dir, "model"); // a folder, or a hub id fetched into the HF cache
    const config = await readModelConfig(dir);
    const maxLength = options.maxLength ?? Math.min(1024, config.maxPositionEmbeddings);
    if (!Number.isInteger(maxLength) || maxLength < 1) {
      throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
    }
    if (maxLength > config.maxPositionEmbeddings) {
      throw new RangeError(
        `maxLength ${maxLength} exceeds the model's max_position_embeddings ${config.maxPositionEmbeddings}`,
      );
    }
    const threads = options.threads ?? navigator.hardwareConcurrency;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`threads must be a positive integer, got ${threads}`);
    }
    if (options.cache !== undefined && typeof options.cache !== "boolean") {
      if (typeof options.cache !== "string" || options.cache === "") {
        throw new TypeError("cache must be a boolean or a non-empty folder path");
      }
    }
    if (options.batchInvariant !== undefined && typeof options.batchInvariant !== "boolean") {
      throw new TypeError("batchInvariant must be a boolean");
    }
    const invariant = options.batchInvariant ?? (options.weights ?? "f32") !== "f32";
    // Quantized weights on the CPU default to the TreeAttention op: its CPU kernel sums each
    // query's visible slots in slot order, so a tree node's logits equal the chain's bit for
    // bit (GroupQueryAttention's softmax lanes follow the KV slot, and int8 activations
    // amplify that last bit into different tokens). Sliding-window models keep GQA (the op
    // takes no window). Measured (2 cores, bench-target, q4): one-token forwards faster,
    // g <= 8 forwards no slower than GQA.
    const quantized = (options.weights ?? "f32") !== "f32";
    const attention = options.attention ??
      (options.cudaDevice !== undefined || (quantized && config.slidingWindow === undefined)
        ? "tree"
        : "gqa");
    const slots = maxLength + (invariant ? 1 : 0); // + the padding row's slot
    const { session, shapes: graph, cache } = await openDecoderSession(dir, config, {
      maxLength,
      ...(invariant ? { kvSlots: slots } : {}),
      attention,
      ...(options.rotary ? { rotary: options.rotary } : {}),
      ...(options.weights ? { weights: options.weights } : {}),
      ...(options.quantization ? { quantization: options.quantization } : {}),
      ...(options.activations === "int8" ? { activations: "int8" as const } : {}),
      linear,
    }, {
      intraOpThreads: threads,
      interOpThreads: 1,
      spinning: options.spinning ?? false,
      customOps: usesCustomOps({ maxLength, attention, linear, weights: options.weights ?? "f32" }),
      ...(options.cudaDevice !== undefined ? { cudaDevice: options.cudaDevice } : {}),
    }, options.cache);
    const kvShape = [1, graph.kvHeads, slots, graph.headDim];
    const kv: Float32Array[] = [];
    try {
      for (let l = 0; l < graph.numLayers; l++) {
        const k = tensor("float32", kvShape); // [1, kvHeads, slots, headDim] f32
        const v = tensor("float32", kvShape); // [1, kvHeads, slots, headDim] f32
        kv.push(k.data, v.data);
        session.bindInput(`past_key.${l}`, k);
        session.bindInput(`past_value.${l}`, v);
        session.bindOutput(`present_key.${l}`, k);
        session.bindOutput(`present_value.${l}`, v);
      }
    } catch (e) {
      session.close();
      throw e;
    }
    return new CausalLM(
      dir,
      config,
      graph,
      session,
      kv,
      cache,
      attention === "tree",
      maxLength,
      invariant,
      linear,
    );
  }

  /** Number of cached tokens: the next forward writes at this slot. */
  get kvLength(): number {
    return this.#kvLength;
  }

  #open(): Session {
    if (!this.#session) throw new SpecDecError(`CausalLM ${this.path} is closed`, StatusCode.STATE);
    return this.#session;
  }

  /**
   * Runs the prompt from an empty cache at positions `0..n-1`.
   *
   * @param ids Prompt token ids `[n]`, `n >= 1`.
   * @param options `hidden`: also return the hidden states.
   * @returns Logits `[n, vocabSize]` (and hidden states `[n, hiddenSize]` when asked).
   */
  prefill(ids: ArrayLike<number>, options: ForwardOptions = {}): Promise<ForwardResult> {
    if (options.treeMask !== undefined) throw new TypeError("prefill() takes no treeMask");
    this.reset();
    const positions = Array.from({ length: ids.length }, (_, i) => i);
    return this.forward(ids, positions, options);
  }

  /**
   * Appends `S` tokens at slots `[kvLength, kvLength + S)` in one forward pass.
   *
   * @param ids New token ids `[S]`.
   * @param positions Position of each new token `[S]` (depth-based in a tree).
   * @param options Tree mask `[S, S]` u8 (parents before children), hidden-state request, and
   *   `logits: "last"` to compute the last token's logits only (the graph's LM head then skips
   *   the other rows: a prefill's largest saving when the vocabulary is large).
   * @returns Logits `[S, vocabSize]` (`[1, vocabSize]` with `logits: "last"`), and hidden states
   *   `[S, hiddenSize]` when asked.
   */
  async forward(
    ids: ArrayLike<number>,
    positions: ArrayLike<number>,
    options: ForwardOptions = {},
  ): Promise<ForwardResult> {
    const session = this.#open();
    const S = ids.length;
    const P = this.#kvLength;
    checkIds(ids, this.vocabSize, "ids");
    if (positions.length !== S) {
      throw new RangeError(`positions has ${positions.length} entries, ids has ${S}`);
    }
    if (P + S > this.maxLength) {
      throw new RangeError(
        `Sequence too long: ${P} cached + ${S} new = ${
          P + S
        } tokens exceeds maxLength ${this.maxLength}`,
      );
    }
    checkPositions(positions, this.maxLength);
    if (options.treeMask !== undefined) checkTreeMask(options.treeMask, S);
    if (this.#busy) {
      throw new SpecDecError(
        `CausalLM ${this.path}: a forward is already running`,
        StatusCode.STATE,
      );
    }
    if (this.#treeOp && S > TREE_ATTENTION_MAX_NEW) {
      if (options.treeMask !== undefined) {
        throw new RangeError(
          `A tree of ${S} nodes exceeds the ${TREE_ATTENTION_MAX_NEW} new tokens of one forward with attention "tree"`,
        );
      }
      return await this.#chunked(ids, positions, options);
    }
    // Batch invariance: a lone token runs as two rows, the second a copy of it written to the
    // spare slot P + 1 and dropped, so its numerics are those of every multi-token forward
    // (CausalLMOptions.batchInvariant).
    const R = this.batchInvariant && S === 1 ? 2 : S; // rows run
    const T = P + R;
    const inputIds = new BigInt64Array(R); // [R] i64
    const positionIds = new BigInt64Array(R); // [1, R] i64
    for (let i = 0; i < R; i++) {
      inputIds[i] = BigInt(ids[Math.min(i, S - 1)]!);
      positionIds[i] = BigInt(positions[Math.min(i, S - 1)]!);
    }
    const bias = new Float32Array(R * T); // [1, 1, R, T] f32
    // The bias alone says who sees whom (GroupQueryAttention also applies its own causal
    // mask; specdec.TreeAttention reads only the bias): later tokens are always masked.
    const mask = options.treeMask;
    const window = this.config.slidingWindow;
    for (let i = 0; i < R; i++) {
      const row = i * T + P;
      if (mask) { for (let j = 0; j < i; j++) if (!mask[i * S + j]) bias[row + j] = MASKED; }
      bias.fill(MASKED, row + i + 1, row + R);
      if (window !== undefined && i < S) {
        // Sliding window (Mistral), by position as transformers masks it: a query at position q
        // sees keys at positions > q - window. Cached slots [0, P) hold positions [0, P); the
        // new tokens' positions are given (depth-based in a tree). Done here rather than with
        // GroupQueryAttention's local_window_size, which counts slots, not tree positions.
        const q = positions[i]!;
        bias.fill(MASKED, i * T, i * T + Math.max(0, Math.min(P, q - window + 1)));
        for (let j = 0; j < i; j++) if (q - positions[j]! >= window) bias[row + j] = MASKED;
      }
    }
    // Rows that get logits: every row, or after a prefill the last one. A batch-invariant
    // model keeps two rows there (the last two, or the token and its padding copy), so its LM
    // head runs the multi-row kernels as every other forward does.
    const last = options.logits === "last";
    const first = !last ? 0 : this.batchInvariant ? Math.max(0, R - 2) : S - 1;
    const nRows = R - first;
    const logitRows = new BigInt64Array(nRows); // [nRows] i64
    for (let i = 0; i < nRows; i++) logitRows[i] = BigInt(first + i);
    const logits = new Float32Array(nRows * this.vocabSize); // [nRows, vocab] f32
    const outputs: Record<string, Tensor> = {
      logits: { dtype: "float32", dims: [nRows, this.vocabSize], data: logits },
    };
    let hidden: Float32Array | undefined;
    if (options.hidden) {
      hidden = new Float32Array(R * this.hiddenSize); // [R, hidden] f32
      outputs.hidden = { dtype: "float32", dims: [R, this.hiddenSize], data: hidden };
    }
    this.#busy = true;
    try {
      await session.run(
        {
          input_ids: { dtype: "int64", dims: [R], data: inputIds },
          position_ids: { dtype: "int64", dims: [1, R], data: positionIds },
          seqlens_k: { dtype: "int32", dims: [1], data: new Int32Array([T - 1]) },
          total_sequence_length: { dtype: "int32", dims: [1], data: new Int32Array([T]) },
          attention_bias: { dtype: "float32", dims: [1, 1, R, T], data: bias },
          logit_rows: { dtype: "int64", dims: [nRows], data: logitRows },
        },
        outputs,
        { blocking: R <= BLOCKING_ROWS },
      );
    } finally {
      this.#busy = false;
    }
    this.#kvLength = P + S; // the padding row's slot is free again
    const V = this.vocabSize;
    // The real rows' logits: all S, or the last real token's (row S - 1 of the rows run).
    const out = last
      ? logits.subarray((S - 1 - first) * V, (S - first) * V) // [1, vocab] f32
      : R === S
      ? logits // [S, vocab] f32
      : logits.subarray(0, V); // [1, vocab] f32 (the padding row dropped)
    const hid = hidden === undefined || R === S ? hidden : hidden.subarray(0, this.hiddenSize);
    return hid ? { logits: out, hidden: hid } : { logits: out };
  }

  /**
   * A causal forward of more tokens than the TreeAttention op takes at once, as consecutive
   * forwards of at most {@linkcode TREE_ATTENTION_MAX_NEW} tokens (the same attention, so the
   * same result).
   */
  async #chunked(
    ids: ArrayLike<number>,
    positions: ArrayLike<number>,
    options: ForwardOptions,
  ): Promise<ForwardResult> {
    const S = ids.length, V = this.vocabSize, H = this.hiddenSize;
    const last = options.logits === "last";
    let logits: Float32Array = new Float32Array(last ? V : S * V); // [S or 1, vocab] f32
    const hidden = options.hidden ? new Float32Array(S * H) : undefined; // [S, hidden] f32
    for (let at = 0; at < S; at += TREE_ATTENTION_MAX_NEW) {
      const end = Math.min(S, at + TREE_ATTENTION_MAX_NEW);
      const r = await this.forward(
        Array.from(ids).slice(at, end),
        Array.from(positions).slice(at, end),
        { ...(options.hidden ? { hidden: true } : {}), ...(last ? { logits: "last" } : {}) },
      );
      if (last) logits = r.logits;
      else logits.set(r.logits, at * V);
      if (hidden && r.hidden) hidden.set(r.hidden, at * H);
    }
    return hidden ? { logits, hidden } : { logits };
  }

  /**
   * Drops cached tokens past `length` (nothing moves: later forwards overwrite them).
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
   * Compacts an accepted tree path in place with one native call over all
   * layers: entries at `slots` move to `slots[0], slots[0] + 1, ...`.
   *
   * @param slots Absolute slots to keep, strictly increasing, `< kvLength`.
   */
  keep(slots: ArrayLike<number>): void {
    this.#open();
    if (this.#busy) {
      throw new SpecDecError(`CausalLM ${this.path}: a forward is running`, StatusCode.STATE);
    }
    const s = checkKeepSlots(slots, this.#kvLength); // [n] i32
    const n = s.length;
    const base = s[0]!;
    kvKeep(this.#kv, this.#kvLayout, s, base);
    this.#kvLength = base + n;
  }

  /** Empties the cache (`kvLength = 0`). */
  reset(): void {
    this.#kvLength = 0;
  }

  /** Frees the session (idempotent). */
  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }

  /** Same as {@linkcode CausalLM.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
