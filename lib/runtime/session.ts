/**
 * `Session`: one ONNX model loaded in ONNX Runtime, run with one FFI call per forward over
 * caller-owned tensors, with persistent bindings (a KV cache bound as past and present is
 * written in place).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Environment } from "./environment.ts";
import { loadLibrary, readCString } from "./library.ts";
import { check, cstr, DescBuffer, ERR_CAP, readErr } from "./_ffi.ts";
import { SpecDecError, StatusCode } from "./errors.ts";
import { checkTensor, type DType, dtypeFromCode, type Tensor } from "./tensor.ts";
import type { NativeLibrary } from "./symbols.ts";

/** Declared type of one model input or output. */
export interface TensorInfo {
  /** Name in the graph. */
  readonly name: string;
  /** Element type, or `undefined` for a non-tensor or unsupported type (strings). */
  readonly dtype: DType | undefined;
  /** Declared dims, `-1` where dynamic; `undefined` when the rank is unknown. */
  readonly dims: readonly number[] | undefined;
}

/** Options of one {@linkcode Session.run}. */
export interface RunOptions {
  /**
   * Run on the JavaScript thread instead of a worker thread (default false). A short run
   * saves the hand-over to the worker and back (measured on 2 cores: about 0.7 ms per forward of
   * the 22M-parameter bench target, a third of its one-token forward). The event loop gets a
   * turn before the run (`setImmediate`), so timers, I/O and abort signals still go through
   * between runs, but not during one: keep long runs (prefills) off the JavaScript thread.
   */
  blocking?: boolean;
}

/** Options of {@linkcode Session.fromFile} and {@linkcode Session.fromBytes}. */
export interface SessionOptions {
  /** Threads of the session's own intra-op pool (0: ONNX Runtime's choice). */
  intraOpThreads?: number;
  /** Threads of the session's own inter-op pool (0: ONNX Runtime's choice). */
  interOpThreads?: number;
  /** Whether the session's idle pool threads spin (ONNX Runtime default: true). */
  spinning?: boolean;
  /** Graph optimization: 0 none, 1 basic, 2 extended, 3 all (default 3). */
  optimizationLevel?: 0 | 1 | 2 | 3;
  /** Raw ONNX Runtime session config entries, e.g. `{ "session.intra_op.allow_spinning": "0" }`. */
  config?: Readonly<Record<string, string>>;
  /**
   * Graph initializers handed in caller memory (ONNX Runtime `AddInitializer`): the session
   * reads these tensors instead of loading its own copy, with no copy made. The tensors are
   * kept referenced by the session and must not change while it is open. For a model loaded
   * from bytes whose initializers are external data, ONNX Runtime still checks that the named
   * external file exists (it does not read it: an empty placeholder will do): set
   * `externalDataFolder`.
   */
  externalInitializers?: ReadonlyMap<string, Tensor>;
  /**
   * Contents of external-data files by the file name the model uses (ONNX Runtime
   * `AddExternalInitializersFromFilesInMemory`; copied into the session while it loads).
   */
  externalData?: ReadonlyMap<string, Uint8Array>;
  /** Folder where external data files are looked up for a model loaded from bytes. */
  externalDataFolder?: string;
  /**
   * Register the `specdec` custom op domain: `TreeAttention` and `PackedLinear` (needs a shim
   * built with them).
   */
  customOps?: boolean;
  /** The same as `customOps` (its earlier name, from when the domain held TreeAttention only). */
  treeAttention?: boolean;
  /** Run on this CUDA device (`SpecDecError` code `UNAVAILABLE` when there is none). */
  cudaDevice?: number;
}

/** Tensors by input or output name. */
export type TensorMap = Readonly<Record<string, Tensor>>;

const INPUT = 0;
const OUTPUT = 1;

interface Held {
  handle: Deno.PointerValue;
}

const registry = new FinalizationRegistry<Held>((held) => {
  // Collected without close(): no run can be in flight (a run keeps the session referenced).
  loadLibrary().symbols.sd_session_destroy(held.handle);
});

function checkCount(value: number | undefined, name: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

/** Builds native session options; the caller destroys them. Keeps referenced what must live. */
function makeOptions(
  lib: NativeLibrary,
  options: SessionOptions,
  keep: unknown[],
): Deno.PointerValue {
  checkCount(options.intraOpThreads, "options.intraOpThreads");
  checkCount(options.interOpThreads, "options.interOpThreads");
  checkCount(options.cudaDevice, "options.cudaDevice");
  const level = options.optimizationLevel ?? 3;
  if (![0, 1, 2, 3].includes(level)) {
    throw new RangeError(`options.optimizationLevel must be 0..3, got ${level}`);
  }
  const inits = options.externalInitializers;
  if (inits !== undefined) {
    if (!(inits instanceof Map)) throw new TypeError("options.externalInitializers must be a Map");
    for (const [name, t] of inits) checkTensor(t, `options.externalInitializers.get("${name}")`);
  }
  const files = options.externalData;
  if (files !== undefined) {
    if (!(files instanceof Map)) throw new TypeError("options.externalData must be a Map");
    for (const [name, bytes] of files) {
      if (!(bytes instanceof Uint8Array)) {
        throw new TypeError(`options.externalData.get("${name}") must be a Uint8Array`);
      }
    }
  }
  const out = new BigUint64Array(1);
  const s = lib.symbols;
  check(s.sd_session_options_create(out), () => "out of memory", "Cannot create session options");
  const opts = Deno.UnsafePointer.create(out[0] ?? 0n);
  try {
    const last = (): string => readCString(s.sd_session_options_last_error(opts));
    const ctx = "Invalid session options";
    if (options.intraOpThreads !== undefined) {
      check(s.sd_session_options_set_intra_op_threads(opts, options.intraOpThreads), last, ctx);
    }
    if (options.interOpThreads !== undefined) {
      check(s.sd_session_options_set_inter_op_threads(opts, options.interOpThreads), last, ctx);
    }
    if (options.spinning !== undefined) {
      check(s.sd_session_options_set_spinning(opts, options.spinning ? 1 : 0), last, ctx);
    }
    check(s.sd_session_options_set_optimization_level(opts, level), last, ctx);
    const config: Record<string, string> = { ...options.config };
    if (options.externalDataFolder !== undefined) {
      config["session.model_external_initializers_file_folder_path"] = options.externalDataFolder;
    }
    for (const [key, value] of Object.entries(config)) {
      if (typeof value !== "string") {
        throw new TypeError(`options.config["${key}"] must be a string`);
      }
      check(s.sd_session_options_set_config(opts, cstr(key), cstr(value)), last, ctx);
    }
    for (const [name, t] of inits ?? []) {
      const desc = new DescBuffer(1);
      desc.push(0, t);
      keep.push(t);
      check(s.sd_session_options_add_initializer(opts, cstr(name), desc.bytes), last, ctx);
    }
    for (const [name, bytes] of files ?? []) {
      keep.push(bytes);
      check(
        s.sd_session_options_add_external_data(opts, cstr(name), bytes, BigInt(bytes.byteLength)),
        last,
        ctx,
      );
    }
    if (options.customOps === true || options.treeAttention === true) {
      check(s.sd_session_options_enable_tree_attention(opts), last, ctx);
    }
    if (options.cudaDevice !== undefined) {
      check(s.sd_session_options_enable_cuda(opts, options.cudaDevice), last, ctx);
    }
  } catch (err) {
    s.sd_session_options_destroy(opts);
    throw err;
  }
  return opts;
}

/**
 * An ONNX model loaded in ONNX Runtime.
 *
 * Runs take caller-owned tensors and write outputs in place into caller-allocated tensors: one
 * FFI call per run, no copies. Tensors bound with {@linkcode bindInput} / {@linkcode bindOutput}
 * stay attached across runs (bind a KV buffer as both `past_key` and `present_key` and ONNX
 * Runtime writes the new entries in place). One run at a time per session.
 *
 * @example Running a model
 * ```ts
 * import { Environment, Session, tensor } from "@specdec/specdec";
 * using env = new Environment();
 * using session = await Session.fromFile(env, "tests/fixtures/onnx/basic.onnx");
 * const sum = tensor("float32", [1, 4]); // [n, 4] f32, written in place
 * await session.run({
 *   x: tensor("float32", [1, 4], new Float32Array([1, 2, 3, 4])),
 *   bias: tensor("float32", [4], new Float32Array([10, 10, 10, 10])),
 *   ids: tensor("int64", [1]),
 * }, { sum });
 * if (sum.data[3] !== 14) throw new Error("unexpected");
 * ```
 */
export class Session implements Disposable {
  #lib: NativeLibrary;
  #held: Held;
  #unadopt: () => void;
  #keep: unknown[]; // initializer tensors and option bytes the session reads
  #inputIndex = new Map<string, number>();
  #outputIndex = new Map<string, number>();
  #boundInputs = new Map<number, Tensor>();
  #boundOutputs = new Map<number, Tensor>();
  #descs = new DescBuffer(8);
  #running = false;
  #closed = false;
  /** Declared inputs, in model order. */
  readonly inputs: readonly TensorInfo[];
  /** Declared outputs, in model order. */
  readonly outputs: readonly TensorInfo[];

  /** @ignore */
  private constructor(
    lib: NativeLibrary,
    handle: Deno.PointerValue,
    env: Environment,
    keep: unknown[],
  ) {
    this.#lib = lib;
    this.#held = { handle };
    this.#keep = keep;
    this.inputs = this.#readInfo(INPUT);
    this.outputs = this.#readInfo(OUTPUT);
    this.inputs.forEach((info, i) => this.#inputIndex.set(info.name, i));
    this.outputs.forEach((info, i) => this.#outputIndex.set(info.name, i));
    registry.register(this, this.#held, this);
    this.#unadopt = env.adopt(this);
  }

  #readInfo(kind: number): TensorInfo[] {
    const s = this.#lib.symbols;
    const h = this.#held.handle;
    const n = s.sd_session_io_count(h, kind);
    const infos: TensorInfo[] = [];
    for (let i = 0; i < n; i++) {
      const name = readCString(s.sd_session_io_name(h, kind, i));
      const dtype = dtypeFromCode(s.sd_session_io_dtype(h, kind, i));
      const rank = s.sd_session_io_rank(h, kind, i);
      let dims: number[] | undefined;
      if (rank >= 0) {
        const buf = new BigInt64Array(Math.max(1, rank));
        const st = s.sd_session_io_dims(h, kind, i, buf, rank);
        if (st === 0) dims = Array.from(buf.subarray(0, rank), Number);
      }
      infos.push({ name, dtype, dims });
    }
    return infos;
  }

  /**
   * Loads a model from an ONNX file; external data files are found next to it.
   *
   * @param env The environment.
   * @param path Path of the `.onnx` file.
   * @param options Threads, optimization, external initializers, custom ops.
   * @returns The open session.
   * @throws {SpecDecError} Code `IO` naming the path when the file is missing or not a model.
   * @throws {TypeError} / {RangeError} For bad arguments.
   */
  static async fromFile(
    env: Environment,
    path: string,
    options: SessionOptions = {},
  ): Promise<Session> {
    if (typeof path !== "string" || path === "") {
      throw new TypeError("path must be a non-empty string");
    }
    try {
      const info = Deno.statSync(path);
      if (!info.isFile) {
        throw new SpecDecError(`Model path is not a file: ${path}`, StatusCode.IO);
      }
    } catch (err) {
      if (err instanceof SpecDecError) throw err;
      throw new SpecDecError(`Model file not found: ${path}`, StatusCode.IO, { cause: err });
    }
    const pathBuf = cstr(path); // referenced by #create until the nonblocking call settles
    return await Session.#create(
      env,
      options,
      (lib, opts, err, out) =>
        lib.symbols.sd_session_create_from_file(
          env.handle(),
          opts,
          pathBuf,
          err,
          BigInt(err.byteLength),
          out,
        ),
      `Cannot load model ${path}`,
      pathBuf,
    );
  }

  /**
   * Loads a model from ONNX protobuf bytes (ONNX Runtime copies them while loading).
   *
   * @param env The environment.
   * @param bytes The model.
   * @param options As {@linkcode fromFile}.
   * @returns The open session.
   * @throws {SpecDecError} Code `IO` when the bytes are not a valid model.
   * @throws {TypeError} / {RangeError} For bad arguments.
   */
  static async fromBytes(
    env: Environment,
    bytes: Uint8Array,
    options: SessionOptions = {},
  ): Promise<Session> {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("bytes must be a Uint8Array");
    if (bytes.byteLength === 0) {
      throw new SpecDecError("Cannot load model from bytes: bytes are empty", StatusCode.IO);
    }
    return await Session.#create(
      env,
      options,
      (lib, opts, err, out) =>
        lib.symbols.sd_session_create_from_bytes(
          env.handle(),
          opts,
          bytes,
          BigInt(bytes.byteLength),
          err,
          BigInt(err.byteLength),
          out,
        ),
      `Cannot load model from ${bytes.byteLength} bytes`,
      bytes,
    );
  }

  static async #create(
    env: Environment,
    options: SessionOptions,
    call: (
      lib: NativeLibrary,
      opts: Deno.PointerValue,
      err: Uint8Array<ArrayBuffer>,
      out: BigUint64Array<ArrayBuffer>,
    ) => Promise<number>,
    context: string,
    input: Uint8Array,
  ): Promise<Session> {
    env.handle(); // throws when the environment is closed
    const lib = loadLibrary();
    const keep: unknown[] = [];
    const opts = makeOptions(lib, options ?? {}, keep);
    const err = new Uint8Array(ERR_CAP);
    const out = new BigUint64Array(1);
    let status: number;
    try {
      status = await call(lib, opts, err, out);
    } finally {
      lib.symbols.sd_session_options_destroy(opts);
    }
    void input; // the path or model bytes stay referenced until the call has settled
    if (status !== 0) {
      const msg = readErr(err);
      throw new SpecDecError(msg.startsWith("cannot load") ? msg : `${context}: ${msg}`, status);
    }
    const handle = Deno.UnsafePointer.create(out[0] ?? 0n);
    if (env.closed) {
      lib.symbols.sd_session_destroy(handle);
      throw new SpecDecError("Environment was closed while the model loaded", StatusCode.STATE);
    }
    // External data bytes were copied while loading; initializer tensors stay referenced.
    return new Session(lib, handle, env, keep.filter((k) => !(k instanceof Uint8Array)));
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #handle(action: string): Deno.PointerValue {
    if (this.#closed || this.#held.handle === null) {
      throw new SpecDecError(`Session is closed: cannot ${action}`, StatusCode.STATE);
    }
    if (this.#running) {
      throw new SpecDecError(
        `Session is busy: cannot ${action} while a run is in progress (await it first)`,
        StatusCode.STATE,
      );
    }
    return this.#held.handle;
  }

  #lastError(): string {
    return readCString(this.#lib.symbols.sd_session_last_error(this.#held.handle));
  }

  /** Checks a tensor against a declared input/output; throws SpecDecError naming it. */
  #checkAgainst(kind: number, name: string, t: Tensor, what: string): number {
    const index = (kind === INPUT ? this.#inputIndex : this.#outputIndex).get(name);
    const side = kind === INPUT ? "input" : "output";
    if (index === undefined) {
      const names = [...(kind === INPUT ? this.#inputIndex : this.#outputIndex).keys()];
      throw new SpecDecError(
        `Unknown ${side} '${name}' in ${what}; the model has: ${names.join(", ")}`,
        StatusCode.INVALID_ARGUMENT,
      );
    }
    checkTensor(t, `${what}.${name}`);
    const info = (kind === INPUT ? this.inputs : this.outputs)[index];
    if (info === undefined || info.dtype === undefined || info.dims === undefined) {
      throw new SpecDecError(
        `${side} '${name}' is not a supported tensor`,
        StatusCode.INVALID_ARGUMENT,
      );
    }
    if (t.dtype !== info.dtype) {
      throw new SpecDecError(
        `${side} '${name}': dtype expected ${info.dtype}, got ${t.dtype}`,
        StatusCode.INVALID_ARGUMENT,
      );
    }
    if (t.dims.length !== info.dims.length) {
      throw new SpecDecError(
        `${side} '${name}': rank expected ${info.dims.length}, got ${t.dims.length}`,
        StatusCode.INVALID_ARGUMENT,
      );
    }
    for (let i = 0; i < t.dims.length; i++) {
      const want = info.dims[i] ?? -1;
      if (want >= 0 && t.dims[i] !== want) {
        throw new SpecDecError(
          `${side} '${name}': dim ${i} expected ${want}, got ${t.dims[i]} (dims [${
            t.dims.join(", ")
          }], model [${info.dims.join(", ")}])`,
          StatusCode.INVALID_ARGUMENT,
        );
      }
    }
    return index;
  }

  #bind(kind: number, name: string, t: Tensor): void {
    const h = this.#handle(`bind ${name}`);
    const index = this.#checkAgainst(kind, name, t, kind === INPUT ? "bindInput" : "bindOutput");
    const desc = new DescBuffer(1);
    desc.push(index, t);
    const st = this.#lib.symbols.sd_session_bind(
      h,
      desc.bytes,
      BigInt(desc.bytes.byteLength),
      kind === INPUT ? 1 : 0,
      kind === INPUT ? 0 : 1,
    );
    check(st, () => this.#lastError(), `Cannot bind ${name}`);
    (kind === INPUT ? this.#boundInputs : this.#boundOutputs).set(index, t);
  }

  /**
   * Attaches a tensor to an input for every later run until unbound (the tensor is kept
   * referenced; its contents are read at each run).
   *
   * @param name Input name.
   * @param t The tensor.
   * @throws {SpecDecError} For an unknown name or a dtype/shape the model does not accept, or when
   *   closed or busy.
   */
  bindInput(name: string, t: Tensor): void {
    this.#bind(INPUT, name, t);
  }

  /**
   * Attaches a caller-allocated tensor to an output: every later run writes it in place.
   *
   * @param name Output name.
   * @param t The tensor (dims must be what the model produces).
   * @throws {SpecDecError} As {@linkcode bindInput}.
   */
  bindOutput(name: string, t: Tensor): void {
    this.#bind(OUTPUT, name, t);
  }

  /**
   * Detaches one bound input or output, or all of them.
   *
   * @param name An input or output name; absent: everything.
   * @throws {SpecDecError} For an unknown name, or when closed or busy.
   */
  unbind(name?: string): void {
    const h = this.#handle("unbind");
    const s = this.#lib.symbols;
    if (name === undefined) {
      check(s.sd_session_unbind(h, INPUT, -1), () => this.#lastError(), "Cannot unbind");
      check(s.sd_session_unbind(h, OUTPUT, -1), () => this.#lastError(), "Cannot unbind");
      this.#boundInputs.clear();
      this.#boundOutputs.clear();
      return;
    }
    const i = this.#inputIndex.get(name);
    const o = this.#outputIndex.get(name);
    if (i === undefined && o === undefined) {
      throw new SpecDecError(`Unknown input or output '${name}'`, StatusCode.INVALID_ARGUMENT);
    }
    if (i !== undefined) {
      check(s.sd_session_unbind(h, INPUT, i), () => this.#lastError(), `Cannot unbind ${name}`);
      this.#boundInputs.delete(i);
    }
    if (o !== undefined) {
      check(s.sd_session_unbind(h, OUTPUT, o), () => this.#lastError(), `Cannot unbind ${name}`);
      this.#boundOutputs.delete(o);
    }
  }

  /**
   * Runs the model once (one nonblocking FFI call). Every input must be bound or in `feeds`; the
   * outputs computed are the bound ones plus `fetches`, written in place. All tensors stay
   * referenced until the promise settles; do not touch their contents meanwhile.
   *
   * @param feeds Input tensors by name (besides bound inputs).
   * @param fetches Caller-allocated output tensors by name (besides bound outputs), with the dims
   *   the model produces.
   * @param options Where the run happens ({@linkcode RunOptions.blocking}).
   * @throws {SpecDecError} Naming the input or output for an unknown name, wrong dtype or shape, a
   *   missing input; code `STATE` when closed or while another run is in progress.
   */
  async run(feeds: TensorMap, fetches: TensorMap = {}, options: RunOptions = {}): Promise<void> {
    if (feeds === null || typeof feeds !== "object") throw new TypeError("feeds must be an object");
    if (fetches === null || typeof fetches !== "object") {
      throw new TypeError("fetches must be an object");
    }
    if (options === null || typeof options !== "object") {
      throw new TypeError("options must be an object");
    }
    const blocking = options.blocking === true;
    // A turn of the event loop first (a few microseconds), so a decoding loop of blocking runs
    // never starves timers, sockets and abort signals.
    if (blocking) await new Promise<void>((resolve) => setImmediate(resolve));
    const h = this.#handle("run");
    const descs = this.#descs;
    descs.reset();
    const refs: Tensor[] = [];
    let nIn = 0;
    for (const name in feeds) {
      const t = feeds[name] as Tensor;
      const index = this.#checkAgainst(INPUT, name, t, "feeds");
      if (this.#boundInputs.has(index)) {
        throw new SpecDecError(
          `input '${name}' is bound and also given in feeds`,
          StatusCode.INVALID_ARGUMENT,
        );
      }
      descs.push(index, t);
      refs.push(t);
      nIn++;
    }
    for (let i = 0; i < this.inputs.length; i++) {
      if (!this.#boundInputs.has(i) && !Object.hasOwn(feeds, this.inputs[i]?.name ?? "")) {
        throw new SpecDecError(
          `input '${this.inputs[i]?.name}' is missing (neither bound nor in feeds)`,
          StatusCode.INVALID_ARGUMENT,
        );
      }
    }
    let nOut = 0;
    for (const name in fetches) {
      const t = fetches[name] as Tensor;
      const index = this.#checkAgainst(OUTPUT, name, t, "fetches");
      if (this.#boundOutputs.has(index)) {
        throw new SpecDecError(
          `output '${name}' is bound and also given in fetches`,
          StatusCode.INVALID_ARGUMENT,
        );
      }
      descs.push(index, t);
      refs.push(t);
      nOut++;
    }
    const bytes = descs.bytes;
    this.#running = true;
    let status: number;
    try {
      status = blocking
        ? this.#lib.symbols.sd_session_run_blocking(h, bytes, BigInt(bytes.byteLength), nIn, nOut)
        : await this.#lib.symbols.sd_session_run(h, bytes, BigInt(bytes.byteLength), nIn, nOut);
    } finally {
      this.#running = false;
      if (this.#closed) this.#destroy(); // close() was called during the run
    }
    void refs; // kept alive until here
    if (status !== 0) throw new SpecDecError(`Run failed: ${this.#lastError()}`, status);
  }

  /**
   * Frees the native session (bound tensors are released, not freed). Idempotent. During a run
   * the session is marked closed at once and freed when the run settles.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unadopt();
    if (!this.#running) this.#destroy();
  }

  #destroy(): void {
    const h = this.#held.handle;
    if (h === null) return;
    registry.unregister(this);
    this.#lib.symbols.sd_session_destroy(h);
    this.#held.handle = null;
    this.#boundInputs.clear();
    this.#boundOutputs.clear();
    this.#keep = [];
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
