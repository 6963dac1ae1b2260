/**
 * `MedusaHeads`: Medusa-1 heads (from `models/<base>/medusa/`) as a small
 * second ONNX Runtime session, implementing {@linkcode PredictionHeads}.
 *
 * Layout read (the model family's): `medusa/config.json` with
 * `medusa_num_heads`, `hidden_size`, `vocab_size`, `shares_base_lm_head: true`
 * and `base_model` (path of the base checkpoint relative to the heads, default
 * `..`); `medusa/model.safetensors` with `medusa_head.{k}.0.linear.weight`
 * `[H, H]` and `.bias` `[H]`. Head k: `logits_k = lm_head(h + silu(h W_k^T + b_k))`.
 *
 * Why a second graph: see {@link ./graph/medusa.ts} (heads run on one hidden
 * state per step, the base on every tree node).
 *
 * @module
 */

import {
  checkActivationsOption,
  checkWeightsOption,
  type WeightPrecision,
} from "./graph/quantize_blockwise.ts";
import type { PredictionHeads } from "./language_model.ts";
import { readModelConfig } from "./config.ts";
import { SafeTensors } from "./safetensors.ts";
import { openWeights } from "./_weights.ts";
import { buildMedusaGraph } from "./graph/medusa.ts";
import { openGraph } from "./_open_graph.ts";
import { resolveLinearKernel } from "./_linear_kernel.ts";
import type { ActivationPrecision, LinearKernel } from "./graph/decoder_graph.ts";
import { usesCustomOps } from "./graph/_layers.ts";
import type { Session } from "../runtime/session.ts";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";
import { resolveModelPath } from "./hub/resolve_model.ts";
import { resolveHeadsBase } from "./hub/_resolve_base.ts";

/** Options of {@linkcode MedusaHeads.load}. */
export interface MedusaHeadsOptions {
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads?: number;
  /**
   * Base checkpoint directory (default: `base_model` of the heads' config, else `..`; for heads
   * fetched by hub id, that folder of the same repository, fetched at the same commit).
   */
  base?: string;
  /**
   * Precision of the heads' blocks and their copy of the LM head (default `f32`); give the
   * base model's precision so the heads draft from the same LM head the base verifies with.
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
   * `int8` (the heads' numerics never change Medusa's output), which makes `linear` default to
   * `packed` where its AVX-512 kernels run. MatMulNBits (`linear: "gemm"`) keeps the
   * one row of a heads forward in f32.
   */
  activations?: ActivationPrecision;
}

function positive(c: Record<string, unknown>, key: string, path: string): number {
  const v = c[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw new SpecDecError(
      `Invalid Medusa config ${path}: "${key}" must be a positive integer`,
      StatusCode.IO,
    );
  }
  return v;
}

/**
 * Medusa heads over a base model's last hidden state.
 *
 * @example Head logits for the last prompt position
 * ```ts
 * import { CausalLM, MedusaHeads } from "@specdec/specdec";
 * using base = await CausalLM.load("models/tiny-target", { maxLength: 64 });
 * using heads = await MedusaHeads.load("models/tiny-target/medusa");
 * const { hidden } = await base.prefill([1, 2, 3], { hidden: true });
 * const logits = await heads.forward(hidden!.subarray(2 * base.hiddenSize)); // [numHeads, vocab] f32
 * if (logits.length !== heads.numHeads * heads.vocabSize) throw new Error("unexpected");
 * ```
 */
export class MedusaHeads implements PredictionHeads, Disposable {
  /** Number of heads; head k predicts the token k + 2 positions after the hidden state's token. */
  readonly numHeads: number;
  /** Logits per head. */
  readonly vocabSize: number;
  /** Width of the hidden state the heads read. */
  readonly hiddenSize: number;
  /** The heads' directory. */
  readonly path: string;
  #session: Session | undefined;
  #busy = false;

  /** @ignore */
  private constructor(path: string, session: Session, K: number, H: number, V: number) {
    this.path = path;
    this.#session = session;
    this.numHeads = K;
    this.hiddenSize = H;
    this.vocabSize = V;
  }

  /**
   * Reads the heads and the base's LM head and opens the heads' session.
   *
   * @param dir The `medusa/` directory, or a hub id (`org/name/medusa`, optionally `@revision`)
   *   fetched from `HF_ENDPOINT` into the Hugging Face cache.
   * @param options Threads and base directory.
   * @returns The heads.
   * @throws {SpecDecError} When a file is missing or malformed, or the heads do not fit the base (sizes named).
   */
  static async load(dir: string, options: MedusaHeadsOptions = {}): Promise<MedusaHeads> {
    if (typeof dir !== "string" || dir === "") {
      throw new TypeError("dir must be a non-empty string");
    }
    checkWeightsOption(options.weights, "weights");
    checkActivationsOption(options.activations, options.weights);
    // With int8 activations the packed kernels are the faster ones where they run (AVX-512).
    const linear = resolveLinearKernel(options.linear, options.activations === "int8");
    const arg = dir;
    dir = await resolveModelPath(dir, "medusa"); // a folder, or a hub id fetched into the HF cache
    const path = `${dir}/config.json`;
    let c: Record<string, unknown>;
    try {
      c = JSON.parse(await Deno.readTextFile(path));
    } catch (cause) {
      throw new SpecDecError(
        `Cannot read Medusa config ${path}: ${(cause as Error).message}`,
        StatusCode.IO,
        {
          cause,
        },
      );
    }
    const K = positive(c, "medusa_num_heads", path);
    const H = positive(c, "hidden_size", path);
    const V = positive(c, "vocab_size", path);
    const layers = (c.medusa_num_layers ?? 1) as number;
    if (!Number.isInteger(layers) || layers < 1 || layers > 8) {
      throw new SpecDecError(
        `Unsupported Medusa config ${path}: medusa_num_layers ${layers} (supported: 1 to 8)`,
        StatusCode.IO,
      );
    }
    if (c.shares_base_lm_head === false) {
      throw new SpecDecError(
        `Unsupported Medusa config ${path}: shares_base_lm_head false (supported: heads sharing the base LM head)`,
        StatusCode.IO,
      );
    }
    const threads = options.threads ?? navigator.hardwareConcurrency;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`threads must be a positive integer, got ${threads}`);
    }
    const rel = typeof c.base_model === "string" ? c.base_model : "..";
    const baseDir = options.base ??
      await resolveHeadsBase(arg, dir, rel.startsWith("/") ? rel : `${dir}/${rel}`);
    const base = await readModelConfig(baseDir);
    if (base.hiddenSize !== H || base.vocabSize !== V) {
      throw new SpecDecError(
        `Medusa heads ${dir} (hidden ${H}, vocab ${V}) do not fit the base ${baseDir} (hidden ${base.hiddenSize}, vocab ${base.vocabSize})`,
        StatusCode.INVALID_ARGUMENT,
      );
    }
    using bw = await openWeights(baseDir);
    const embedName = base.family === "gpt2"
      ? (bw.has("transformer.wte.weight") ? "transformer.wte.weight" : "wte.weight")
      : "model.embed_tokens.weight";
    const lmHead = bw.has("lm_head.weight") && !base.tieWordEmbeddings
      ? bw.float32("lm_head.weight", [V, H])
      : bw.float32(embedName, [V, H]); // [V, H] f32
    const heads = await SafeTensors.open(`${dir}/model.safetensors`);
    const graph = buildMedusaGraph(
      { numHeads: K, hiddenSize: H, vocabSize: V, numLayers: layers },
      heads,
      lmHead,
      options.weights ?? "f32",
      linear,
      options.activations ?? "f32",
    );
    const session = await openGraph(graph, {
      intraOpThreads: threads,
      interOpThreads: 1,
      spinning: false,
      customOps: usesCustomOps({ maxLength: 1, linear, weights: options.weights ?? "f32" }),
    });
    return new MedusaHeads(dir, session, K, H, V);
  }

  /**
   * Runs every head on one hidden state.
   *
   * @param hidden Last hidden state `[hiddenSize]` f32 (after the base's final norm).
   * @returns Logits `[numHeads, vocabSize]` f32, owned by the caller.
   */
  async forward(hidden: Float32Array): Promise<Float32Array> {
    if (!(hidden instanceof Float32Array)) throw new TypeError("hidden must be a Float32Array");
    if (hidden.length !== this.hiddenSize) {
      throw new RangeError(
        `hidden has ${hidden.length} values, expected hiddenSize ${this.hiddenSize}`,
      );
    }
    if (!this.#session) {
      throw new SpecDecError(`MedusaHeads ${this.path} is closed`, StatusCode.STATE);
    }
    if (this.#busy) {
      throw new SpecDecError(
        `MedusaHeads ${this.path}: a forward is already running`,
        StatusCode.STATE,
      );
    }
    const logits = new Float32Array(this.numHeads * this.vocabSize); // [K, V] f32
    const input = hidden.slice(); // [1, H] f32, kept alive for the run
    this.#busy = true;
    try {
      await this.#session.run(
        { hidden: { dtype: "float32", dims: [1, this.hiddenSize], data: input } },
        { logits: { dtype: "float32", dims: [this.numHeads, this.vocabSize], data: logits } },
        { blocking: true }, // one row (see BLOCKING_ROWS)
      );
    } finally {
      this.#busy = false;
    }
    return logits;
  }

  /** Frees the session (idempotent). */
  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }

  /** Same as {@linkcode MedusaHeads.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
