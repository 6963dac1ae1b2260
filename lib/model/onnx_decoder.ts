/**
 * `OnnxDecoder`: imports a decoder exported elsewhere in the optimum /
 * transformers.js layout (`input_ids`, `attention_mask`, `position_ids`,
 * `past_key_values.N.key|value` in; `logits`, `present.N.key|value` out) and
 * serves it as a {@linkcode LanguageModel} for autoregressive and chain
 * speculation. Such exports take a 2-D attention mask, so they cannot verify
 * trees: a `treeMask` is refused.
 *
 * The cache has a dynamic length `[1, kvHeads, P, headDim]`, so each layer has
 * two buffers of capacity `maxLength` used in turn: step t reads its past from
 * one and ONNX Runtime writes the present (past + new) into the other; nothing
 * is allocated per step. `rewind` and `keep` compact by copying within the buffer.
 *
 * @module
 */

import type { ForwardOptions, ForwardResult, LanguageModel } from "./language_model.ts";
import { BLOCKING_ROWS } from "./_blocking_rows.ts";
import { defaultEnvironment } from "../runtime/_default_environment.ts";
import { Session } from "../runtime/session.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";
import { checkIds, checkKeepSlots, checkPositions } from "./_checks.ts";

/** Options of {@linkcode OnnxDecoder.load}. */
export interface OnnxDecoderOptions {
  /** KV capacity in tokens (default 1024). */
  maxLength?: number;
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads?: number;
  /** File name inside the directory (default `model.onnx`). */
  fileName?: string;
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;

/**
 * A causal LM over an ONNX export made by another tool.
 *
 * @example Greedy decoding with an optimum export
 * ```ts
 * import { OnnxDecoder } from "@specdec/specdec";
 * using lm = await OnnxDecoder.load("tests/fixtures/random/llama-onnx", { maxLength: 64 });
 * const { logits } = await lm.prefill([1, 2, 3]); // [3, vocab] f32
 * if (logits.length !== 3 * lm.vocabSize) throw new Error("unexpected");
 * ```
 */
export class OnnxDecoder implements LanguageModel, Disposable {
  /** Number of logits per position. */
  readonly vocabSize: number;
  /** Hidden width (0: exports carry no hidden-state output). */
  readonly hiddenSize = 0;
  /** KV capacity in tokens. */
  readonly maxLength: number;
  /** The model file. */
  readonly path: string;
  #session: Session | undefined;
  #layers: number;
  #kvHeads: number;
  #headDim: number;
  #buffers: [Float32Array, Float32Array][]; // [2 * layers] pairs of [kvHeads * maxLength * headDim] f32
  #current = 0; // which buffer of each pair holds the cache
  #kvLength = 0;
  #hasMask: boolean;
  #hasPositions: boolean;
  #useCacheBranch: boolean;
  #busy = false;

  /** @ignore */
  private constructor(
    path: string,
    session: Session,
    info: { layers: number; kvHeads: number; headDim: number; vocab: number; maxLength: number },
    flags: { mask: boolean; positions: boolean; useCacheBranch: boolean },
  ) {
    this.path = path;
    this.#session = session;
    this.#layers = info.layers;
    this.#kvHeads = info.kvHeads;
    this.#headDim = info.headDim;
    this.vocabSize = info.vocab;
    this.maxLength = info.maxLength;
    this.#hasMask = flags.mask;
    this.#hasPositions = flags.positions;
    this.#useCacheBranch = flags.useCacheBranch;
    const n = info.kvHeads * info.maxLength * info.headDim;
    this.#buffers = Array.from(
      { length: 2 * info.layers },
      () => [new Float32Array(n), new Float32Array(n)] as [Float32Array, Float32Array],
    );
  }

  /**
   * Opens `<dir>/model.onnx` and checks it follows the decoder layout.
   *
   * @param dir Directory of the export.
   * @param options KV capacity, threads, file name.
   * @returns The model with an empty cache.
   * @throws {SpecDecError} When the file is missing or does not follow the layout (what is missing is named).
   */
  static async load(dir: string, options: OnnxDecoderOptions = {}): Promise<OnnxDecoder> {
    if (typeof dir !== "string" || dir === "") {
      throw new TypeError("dir must be a non-empty string");
    }
    const maxLength = options.maxLength ?? 1024;
    if (!Number.isInteger(maxLength) || maxLength < 1) {
      throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
    }
    const threads = options.threads ?? navigator.hardwareConcurrency;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`threads must be a positive integer, got ${threads}`);
    }
    const path = `${dir}/${options.fileName ?? "model.onnx"}`;
    try {
      await Deno.stat(path);
    } catch (cause) {
      throw new SpecDecError(`Cannot read ${path}: ${(cause as Error).message}`, StatusCode.IO, {
        cause,
      });
    }
    const session = await Session.fromFile(defaultEnvironment(), path, {
      intraOpThreads: threads,
      interOpThreads: 1,
      spinning: false,
    });
    try {
      const inputs = new Map(session.inputs.map((i) => [i.name, i]));
      const outputs = new Map(session.outputs.map((o) => [o.name, o]));
      const bad = (what: string): never => {
        throw new SpecDecError(`${path} is not an optimum-layout decoder: ${what}`, StatusCode.IO);
      };
      if (!inputs.has("input_ids")) bad(`no "input_ids" input`);
      const logits = outputs.get("logits") ?? bad(`no "logits" output`);
      if (logits.dtype !== "float32") bad(`"logits" is not float32`);
      const vocab = logits.dims?.[logits.dims.length - 1] ?? -1;
      if (vocab <= 0) bad(`"logits" has no fixed vocabulary dimension`);
      let layers = 0;
      let kvHeads = 0;
      let headDim = 0;
      for (const [name, info] of inputs) {
        const m = PAST.exec(name);
        if (!m) continue;
        layers = Math.max(layers, Number(m[1]) + 1);
        if (info.dtype !== "float32") bad(`"${name}" is not float32`);
        const dims = info.dims ?? [];
        if (dims.length !== 4 || dims[1]! <= 0 || dims[3]! <= 0) {
          bad(`"${name}" must be [batch, kv_heads, past, head_dim] with fixed heads and width`);
        }
        kvHeads = dims[1]!;
        headDim = dims[3]!;
      }
      if (layers === 0) bad(`no "past_key_values.N.key" inputs`);
      for (let l = 0; l < layers; l++) {
        for (const kind of ["key", "value"]) {
          if (!inputs.has(`past_key_values.${l}.${kind}`)) {
            bad(`no "past_key_values.${l}.${kind}" input`);
          }
          if (!outputs.has(`present.${l}.${kind}`)) bad(`no "present.${l}.${kind}" output`);
        }
      }
      return new OnnxDecoder(path, session, { layers, kvHeads, headDim, vocab, maxLength }, {
        mask: inputs.has("attention_mask"),
        positions: inputs.has("position_ids"),
        useCacheBranch: inputs.has("use_cache_branch"),
      });
    } catch (e) {
      session.close();
      throw e;
    }
  }

  /** Number of cached tokens. */
  get kvLength(): number {
    return this.#kvLength;
  }

  /**
   * Runs the prompt from an empty cache.
   *
   * @param ids Prompt token ids `[n]`.
   * @param options No tree mask; `hidden` is not available.
   * @returns Logits `[n, vocabSize]`.
   */
  prefill(ids: ArrayLike<number>, options: ForwardOptions = {}): Promise<ForwardResult> {
    this.reset();
    return this.forward(ids, Array.from({ length: ids.length }, (_, i) => i), options);
  }

  /**
   * Appends a chain of `S` tokens.
   *
   * @param ids New token ids `[S]`.
   * @param positions Their positions `[S]`.
   * @param options `treeMask` is refused (exports take a 2-D attention mask); `hidden` is not available.
   * @returns Logits `[S, vocabSize]`.
   */
  async forward(
    ids: ArrayLike<number>,
    positions: ArrayLike<number>,
    options: ForwardOptions = {},
  ): Promise<ForwardResult> {
    if (!this.#session) {
      throw new SpecDecError(`OnnxDecoder ${this.path} is closed`, StatusCode.STATE);
    }
    if (options.treeMask !== undefined) {
      throw new TypeError(
        `treeMask is not supported by OnnxDecoder (${this.path}): imported exports take a 2-D attention_mask; use a chain, or CausalLM for trees`,
      );
    }
    if (options.hidden) {
      throw new TypeError(
        `hidden is not available from OnnxDecoder (${this.path}): the export has no hidden-state output`,
      );
    }
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
    if (this.#busy) {
      throw new SpecDecError(
        `OnnxDecoder ${this.path}: a forward is already running`,
        StatusCode.STATE,
      );
    }
    const T = P + S;
    const inputIds = new BigInt64Array(S); // [1, S] i64
    const positionIds = new BigInt64Array(S); // [1, S] i64
    for (let i = 0; i < S; i++) {
      inputIds[i] = BigInt(ids[i]!);
      positionIds[i] = BigInt(positions[i]!);
    }
    const inputs: Record<string, Tensor> = {
      input_ids: { dtype: "int64", dims: [1, S], data: inputIds },
    };
    if (this.#hasMask) {
      const mask = new BigInt64Array(T).fill(1n); // [1, T] i64
      inputs.attention_mask = { dtype: "int64", dims: [1, T], data: mask };
    }
    if (this.#hasPositions) {
      inputs.position_ids = { dtype: "int64", dims: [1, S], data: positionIds };
    }
    if (this.#useCacheBranch) {
      inputs.use_cache_branch = { dtype: "bool", dims: [1], data: new Uint8Array([P > 0 ? 1 : 0]) };
    }
    const logits = new Float32Array(S * this.vocabSize); // [1, S, vocab] f32
    const outputs: Record<string, Tensor> = {
      logits: { dtype: "float32", dims: [1, S, this.vocabSize], data: logits },
    };
    const H = this.#kvHeads;
    const D = this.#headDim;
    const cur = this.#current;
    for (let l = 0; l < this.#layers; l++) {
      for (const [k, kind] of [[0, "key"], [1, "value"]] as const) {
        const pair = this.#buffers[2 * l + k]!;
        // past: [1, H, P, D] f32 in the current buffer; present: [1, H, T, D] f32 in the other.
        inputs[`past_key_values.${l}.${kind}`] = {
          dtype: "float32",
          dims: [1, H, P, D],
          data: pair[cur]!.subarray(0, H * P * D),
        };
        outputs[`present.${l}.${kind}`] = {
          dtype: "float32",
          dims: [1, H, T, D],
          data: pair[1 - cur]!.subarray(0, H * T * D),
        };
      }
    }
    this.#busy = true;
    try {
      await this.#session.run(inputs, outputs, { blocking: S <= BLOCKING_ROWS });
    } finally {
      this.#busy = false;
    }
    this.#current = 1 - cur;
    this.#kvLength = T;
    return { logits };
  }

  /** Moves cache entries of every head: slot `from[j]` to slot `j` (`from` increasing), length `P` -> `m`. */
  #compact(from: Int32Array, base: number): void {
    const P = this.#kvLength;
    const H = this.#kvHeads;
    const D = this.#headDim;
    const m = base + from.length;
    for (const pair of this.#buffers) {
      const buf = pair[this.#current]!; // [1, H, P, D] f32 -> [1, H, m, D] f32
      for (let h = 0; h < H; h++) {
        const src = h * P * D;
        const dst = h * m * D;
        buf.copyWithin(dst, src, src + base * D);
        for (let j = 0; j < from.length; j++) {
          const s = src + from[j]! * D;
          buf.copyWithin(dst + (base + j) * D, s, s + D);
        }
      }
    }
  }

  /**
   * Drops cached tokens past `length` (compacts the cache by copying).
   *
   * @param length New `kvLength`.
   */
  rewind(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.#kvLength) {
      throw new RangeError(`length must be an integer in [0, ${this.#kvLength}], got ${length}`);
    }
    if (length < this.#kvLength) this.#compact(new Int32Array(0), length);
    this.#kvLength = length;
  }

  /**
   * Keeps the prefix `[0, slots[0])` and the entries at `slots` (by copy).
   *
   * @param slots Strictly increasing slots `< kvLength`.
   */
  keep(slots: ArrayLike<number>): void {
    const s = checkKeepSlots(slots, this.#kvLength); // [n] i32
    const n = s.length;
    const base = s[0]!;
    this.#compact(s, base);
    this.#kvLength = base + n;
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

  /** Same as {@linkcode OnnxDecoder.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
