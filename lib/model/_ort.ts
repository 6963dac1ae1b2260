/**
 * The model layer's narrow view of the runtime: open a session from bytes or
 * a file, bind persistent tensors, run once, compact KV slots. Every FFI
 * detail stays behind these few functions.
 *
 * TEMPORARY: talks to the shim (`native/include/specdec.h`) directly until the
 * foundation's `lib/runtime/` `Session` lands; then this file becomes a thin
 * wrapper over it.
 *
 * @module
 */

import { SpecDecError, StatusCode } from "../runtime/errors.ts";
import type { ExternalTensor } from "./onnx/graph_builder.ts";

/** A caller-owned tensor handed to a run. */
export interface TensorArg {
  /** Row-major data (referenced, written in place for outputs). */
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
  /** Shape. */
  dims: number[];
}

/** Declared input or output of a session. */
export interface IoInfo {
  /** Name. */
  name: string;
  /** ONNX element type (1 = f32, 7 = i64, ...). */
  dtype: number;
  /** Declared dims (-1 dynamic). */
  dims: number[];
}

/** What the model layer needs of a session. */
export interface OrtSession {
  /** Declared inputs. */
  inputs(): IoInfo[];
  /** Declared outputs. */
  outputs(): IoInfo[];
  /** Binds tensors persistently (kept referenced until close). */
  bind(inputs: Record<string, TensorArg>, outputs: Record<string, TensorArg>): void;
  /** Runs once (one FFI call, off the main thread). */
  run(inputs: Record<string, TensorArg>, outputs: Record<string, TensorArg>): Promise<void>;
  /** Frees the session (idempotent). */
  close(): void;
}

/** Session options. */
export interface OpenOptions {
  /** Intra-op threads. */
  threads: number;
  /** Let idle threads spin. */
  spinning: boolean;
  /** Weights supplied from memory. */
  externals?: Map<string, ExternalTensor>;
  /** Register the specdec TreeAttention op. */
  treeAttention?: boolean;
  /** Name for messages. */
  name: string;
}

const SYMBOLS = {
  sd_env_create: {
    parameters: ["i32", "i32", "i32", "i32", "buffer", "usize", "buffer"],
    result: "i32",
  },
  sd_session_options_create: { parameters: ["buffer"], result: "i32" },
  sd_session_options_destroy: { parameters: ["pointer"], result: "void" },
  sd_session_options_last_error: { parameters: ["pointer"], result: "pointer" },
  sd_session_options_set_intra_op_threads: { parameters: ["pointer", "i32"], result: "i32" },
  sd_session_options_set_spinning: { parameters: ["pointer", "i32"], result: "i32" },
  sd_session_options_add_external_data: {
    parameters: ["pointer", "buffer", "buffer", "usize"],
    result: "i32",
  },
  sd_session_options_enable_tree_attention: { parameters: ["pointer"], result: "i32" },
  sd_session_create_from_bytes: {
    parameters: ["pointer", "pointer", "buffer", "usize", "buffer", "usize", "buffer"],
    result: "i32",
  },
  sd_session_create_from_file: {
    parameters: ["pointer", "pointer", "buffer", "buffer", "usize", "buffer"],
    result: "i32",
  },
  sd_session_destroy: { parameters: ["pointer"], result: "void" },
  sd_session_last_error: { parameters: ["pointer"], result: "pointer" },
  sd_session_io_count: { parameters: ["pointer", "i32"], result: "i32" },
  sd_session_io_name: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  sd_session_io_dtype: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  sd_session_io_rank: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  sd_session_io_dims: { parameters: ["pointer", "i32", "i32", "buffer", "i32"], result: "i32" },
  sd_session_bind: { parameters: ["pointer", "buffer", "usize", "i32", "i32"], result: "i32" },
  sd_session_run: {
    parameters: ["pointer", "buffer", "usize", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  sd_kv_keep: {
    parameters: [
      "buffer",
      "usize",
      "i64",
      "i64",
      "i64",
      "i32",
      "buffer",
      "usize",
      "i64",
      "buffer",
      "usize",
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let lib: Lib | undefined;
let env: Deno.PointerValue = null;
const enc = new TextEncoder();
const cstr = (s: string): Uint8Array => enc.encode(s + "\0");

function load(): Lib {
  if (lib) return lib;
  const root = new URL("../../", import.meta.url).pathname;
  const path = Deno.env.get("SPECDEC_LIB") ?? `${root}build/native/libspecdec.so`;
  try {
    lib = Deno.dlopen(path, SYMBOLS).symbols;
  } catch (cause) {
    throw new SpecDecError(
      `Failed to load ${path} (build it with scripts/build.ts)`,
      StatusCode.STATE,
      { cause },
    );
  }
  const err = new Uint8Array(512);
  const out = new BigUint64Array(1);
  const st = lib.sd_env_create(3, -1, 0, 1, err, BigInt(err.length), out);
  if (st !== 0) throw new SpecDecError(`sd_env_create: ${cString(err)}`, st);
  env = Deno.UnsafePointer.create(out[0]!);
  return lib;
}

function cString(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

function ptrString(p: Deno.PointerValue): string {
  return p === null ? "" : new Deno.UnsafePointerView(p).getCString();
}

function elemType(t: TensorArg["data"]): number {
  if (t instanceof Float32Array) return 1;
  if (t instanceof BigInt64Array) return 7;
  if (t instanceof Int32Array) return 6;
  return 2;
}

const DESC = 96;

function writeDesc(view: DataView, at: number, index: number, t: TensorArg): void {
  view.setInt32(at, index, true);
  view.setInt32(at + 4, elemType(t.data), true);
  view.setInt32(at + 8, t.dims.length, true);
  view.setInt32(at + 12, 0, true);
  const p = t.data.byteLength === 0
    ? 0n
    : Deno.UnsafePointer.value(Deno.UnsafePointer.of(t.data as Uint8Array));
  view.setBigUint64(at + 16, BigInt(p), true);
  view.setBigUint64(at + 24, BigInt(t.data.byteLength), true);
  for (let i = 0; i < 8; i++) view.setBigInt64(at + 32 + 8 * i, BigInt(t.dims[i] ?? 0), true);
}

class ShimSession implements OrtSession {
  #h: Deno.PointerValue;
  #lib: Lib;
  #names: [Map<string, number>, Map<string, number>];
  #keep: unknown[] = [];
  #name: string;

  constructor(h: Deno.PointerValue, l: Lib, name: string, keep: unknown[]) {
    this.#h = h;
    this.#lib = l;
    this.#name = name;
    this.#keep = keep;
    this.#names = [new Map(), new Map()];
    for (const kind of [0, 1]) {
      const n = l.sd_session_io_count(h, kind);
      for (let i = 0; i < n; i++) {
        this.#names[kind]!.set(ptrString(l.sd_session_io_name(h, kind, i)), i);
      }
    }
  }

  #info(kind: number): IoInfo[] {
    const out: IoInfo[] = [];
    for (const [name, i] of this.#names[kind]!) {
      const rank = this.#lib.sd_session_io_rank(this.#h, kind, i);
      const dims = new BigInt64Array(Math.max(rank, 1));
      if (rank > 0) this.#lib.sd_session_io_dims(this.#h, kind, i, dims, rank);
      out.push({
        name,
        dtype: this.#lib.sd_session_io_dtype(this.#h, kind, i),
        dims: Array.from(dims.subarray(0, Math.max(rank, 0)), Number),
      });
    }
    return out;
  }

  inputs(): IoInfo[] {
    return this.#info(0);
  }

  outputs(): IoInfo[] {
    return this.#info(1);
  }

  #descs(
    inputs: Record<string, TensorArg>,
    outputs: Record<string, TensorArg>,
  ): [Uint8Array, number, number] {
    const ins = Object.entries(inputs);
    const outs = Object.entries(outputs);
    const buf = new Uint8Array(DESC * (ins.length + outs.length));
    const view = new DataView(buf.buffer);
    let at = 0;
    for (const [kind, list] of [[0, ins], [1, outs]] as const) {
      for (const [name, t] of list) {
        const idx = this.#names[kind]!.get(name);
        if (idx === undefined) {
          throw new SpecDecError(
            `${this.#name}: the model has no ${kind ? "output" : "input"} "${name}"`,
            StatusCode.INVALID_ARGUMENT,
          );
        }
        writeDesc(view, at, idx, t);
        at += DESC;
      }
    }
    return [buf, ins.length, outs.length];
  }

  #check(st: number, what: string): void {
    if (st !== 0) {
      throw new SpecDecError(
        `${this.#name}: ${what}: ${ptrString(this.#lib.sd_session_last_error(this.#h))}`,
        st,
      );
    }
  }

  bind(inputs: Record<string, TensorArg>, outputs: Record<string, TensorArg>): void {
    const [buf, ni, no] = this.#descs(inputs, outputs);
    this.#check(this.#lib.sd_session_bind(this.#h, buf, BigInt(buf.length), ni, no), "bind");
    this.#keep.push(inputs, outputs);
  }

  async run(inputs: Record<string, TensorArg>, outputs: Record<string, TensorArg>): Promise<void> {
    if (this.#h === null) {
      throw new SpecDecError(`${this.#name}: session is closed`, StatusCode.STATE);
    }
    const [buf, ni, no] = this.#descs(inputs, outputs);
    const st = await this.#lib.sd_session_run(this.#h, buf, BigInt(buf.length), ni, no);
    this.#check(st, "run");
  }

  close(): void {
    if (this.#h === null) return;
    this.#lib.sd_session_destroy(this.#h);
    this.#h = null;
    this.#keep = [];
  }
}

function options(l: Lib, o: OpenOptions): [Deno.PointerValue, unknown[]] {
  const out = new BigUint64Array(1);
  let st = l.sd_session_options_create(out);
  if (st !== 0) throw new SpecDecError("sd_session_options_create failed", st);
  const opts = Deno.UnsafePointer.create(out[0]!);
  const check = (s: number, what: string): void => {
    if (s !== 0) {
      const msg = ptrString(l.sd_session_options_last_error(opts));
      l.sd_session_options_destroy(opts);
      throw new SpecDecError(`${o.name}: ${what}: ${msg}`, s);
    }
  };
  check(l.sd_session_options_set_intra_op_threads(opts, o.threads), "threads");
  check(l.sd_session_options_set_spinning(opts, o.spinning ? 1 : 0), "spinning");
  if (o.treeAttention) check(l.sd_session_options_enable_tree_attention(opts), "tree attention");
  const keep: unknown[] = [];
  for (const t of o.externals?.values() ?? []) {
    const name = cstr(t.location);
    keep.push(name, t.data);
    st = l.sd_session_options_add_external_data(opts, name, t.data, BigInt(t.data.byteLength));
    check(st, `weight ${t.location}`);
  }
  return [opts, keep];
}

/**
 * Opens a session over model bytes.
 *
 * @param model `ModelProto` bytes.
 * @param o Threads, external weights, custom ops.
 * @returns The session.
 */
export function openSession(model: Uint8Array, o: OpenOptions): OrtSession {
  const l = load();
  const [opts, keep] = options(l, o);
  const err = new Uint8Array(2048);
  const out = new BigUint64Array(1);
  const st = l.sd_session_create_from_bytes(
    env,
    opts,
    model,
    BigInt(model.byteLength),
    err,
    BigInt(err.length),
    out,
  );
  l.sd_session_options_destroy(opts);
  if (st !== 0) {
    throw new SpecDecError(`Cannot create a session for ${o.name}: ${cString(err)}`, st);
  }
  return new ShimSession(Deno.UnsafePointer.create(out[0]!), l, o.name, keep);
}

/**
 * Opens a session over an ONNX file.
 *
 * @param path The file.
 * @param o Threads.
 * @returns The session.
 */
export function openSessionFromFile(path: string, o: OpenOptions): OrtSession {
  const l = load();
  const [opts, keep] = options(l, o);
  const err = new Uint8Array(2048);
  const out = new BigUint64Array(1);
  const st = l.sd_session_create_from_file(env, opts, cstr(path), err, BigInt(err.length), out);
  l.sd_session_options_destroy(opts);
  if (st !== 0) throw new SpecDecError(`Cannot create a session for ${path}: ${cString(err)}`, st);
  return new ShimSession(Deno.UnsafePointer.create(out[0]!), l, path, keep);
}

/**
 * Compacts KV slots in place in every buffer with one native call.
 *
 * @param buffers `[n][1, kvHeads, maxLen, headDim]` f32.
 * @param kvHeads Rows per buffer.
 * @param maxLen Slots per row.
 * @param headDim Elements per slot.
 * @param slots Slots to keep, strictly increasing.
 * @param base Destination of the first kept slot.
 */
export function kvKeep(
  buffers: Float32Array[],
  kvHeads: number,
  maxLen: number,
  headDim: number,
  slots: Int32Array,
  base: number,
): void {
  const l = load();
  const table = new BigUint64Array(2 * buffers.length); // [n] (pointer, byte_length) pairs
  buffers.forEach((b, i) => {
    table[2 * i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
    table[2 * i + 1] = BigInt(b.byteLength);
  });
  const err = new Uint8Array(512);
  const st = l.sd_kv_keep(
    table,
    BigInt(buffers.length),
    BigInt(kvHeads),
    BigInt(maxLen),
    BigInt(headDim),
    4,
    slots,
    BigInt(slots.length),
    BigInt(base),
    err,
    BigInt(err.length),
  );
  if (st !== 0) throw new SpecDecError(`sd_kv_keep: ${cString(err)}`, st);
}
