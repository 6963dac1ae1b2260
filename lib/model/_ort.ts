/**
 * The model layer's narrow view of the runtime (`lib/runtime/`): open a
 * session from bytes or a file in one shared environment, bind persistent
 * tensors, run once, compact KV slots.
 *
 * @module
 */

import { Environment } from "../runtime/environment.ts";
import { Session } from "../runtime/session.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { kvKeep as runtimeKvKeep } from "../runtime/kv_keep.ts";
import type { ExternalTensor } from "./onnx/graph_builder.ts";

/** A caller-owned tensor handed to a run. */
export interface TensorArg {
  /** Row-major data (referenced; written in place for outputs). */
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
  /** Shape. */
  dims: number[];
}

/** Declared input or output of a session. */
export interface IoInfo {
  /** Name. */
  name: string;
  /** Element type (`float32`, `int64`, ...), or `undefined` when unsupported. */
  dtype: string | undefined;
  /** Declared dims (-1 dynamic). */
  dims: number[];
}

/** What the model layer needs of a session. */
export interface OrtSession {
  /** Declared inputs. */
  inputs(): IoInfo[];
  /** Declared outputs. */
  outputs(): IoInfo[];
  /** Binds tensors persistently (kept referenced by the session). */
  bind(inputs: Record<string, TensorArg>, outputs: Record<string, TensorArg>): void;
  /** Runs once: one FFI call, off the main thread. */
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
  /** Weights supplied from memory as in-memory external-data files. */
  externals?: Map<string, ExternalTensor>;
  /** Register the specdec TreeAttention op. */
  treeAttention?: boolean;
  /** Run on this CUDA device. */
  cudaDevice?: number;
  /** Name for messages. */
  name: string;
}

let env: Environment | undefined;

function environment(): Environment {
  if (!env || env.closed) env = new Environment({ logLevel: 3 });
  return env;
}

function toTensor(t: TensorArg): Tensor {
  const d = t.data;
  const dtype = d instanceof Float32Array
    ? "float32"
    : d instanceof BigInt64Array
    ? "int64"
    : d instanceof Int32Array
    ? "int32"
    : "uint8";
  return { dtype, dims: t.dims, data: d } as Tensor;
}

function toMap(m: Record<string, TensorArg>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(m)) out[k] = toTensor(v);
  return out;
}

class RuntimeSession implements OrtSession {
  #s: Session;
  constructor(s: Session) {
    this.#s = s;
  }
  #info(
    list: readonly {
      name: string;
      dtype: string | undefined;
      dims: readonly number[] | undefined;
    }[],
  ): IoInfo[] {
    return list.map((i) => ({ name: i.name, dtype: i.dtype, dims: [...(i.dims ?? [])] }));
  }
  inputs(): IoInfo[] {
    return this.#info(this.#s.inputs);
  }
  outputs(): IoInfo[] {
    return this.#info(this.#s.outputs);
  }
  bind(inputs: Record<string, TensorArg>, outputs: Record<string, TensorArg>): void {
    for (const [k, v] of Object.entries(inputs)) this.#s.bindInput(k, toTensor(v));
    for (const [k, v] of Object.entries(outputs)) this.#s.bindOutput(k, toTensor(v));
  }
  run(inputs: Record<string, TensorArg>, outputs: Record<string, TensorArg>): Promise<void> {
    return this.#s.run(toMap(inputs), toMap(outputs));
  }
  close(): void {
    this.#s.close();
  }
}

function sessionOptions(o: OpenOptions): Parameters<typeof Session.fromBytes>[2] {
  const externalData = new Map<string, Uint8Array>();
  for (const t of o.externals?.values() ?? []) {
    externalData.set(
      t.location,
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    );
  }
  return {
    intraOpThreads: o.threads,
    interOpThreads: 1,
    spinning: o.spinning,
    ...(externalData.size > 0 ? { externalData } : {}),
    ...(o.treeAttention ? { treeAttention: true } : {}),
    ...(o.cudaDevice !== undefined ? { cudaDevice: o.cudaDevice } : {}),
  };
}

/**
 * Opens a session over model bytes (weights from memory).
 *
 * @param model `ModelProto` bytes.
 * @param o Threads, external weights, custom ops.
 * @returns The session.
 */
export async function openSession(model: Uint8Array, o: OpenOptions): Promise<OrtSession> {
  return new RuntimeSession(await Session.fromBytes(environment(), model, sessionOptions(o)));
}

/**
 * Opens a session over an ONNX file (external data next to it).
 *
 * @param path The file.
 * @param o Threads.
 * @returns The session.
 */
export async function openSessionFromFile(path: string, o: OpenOptions): Promise<OrtSession> {
  return new RuntimeSession(await Session.fromFile(environment(), path, sessionOptions(o)));
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
  runtimeKvKeep(buffers, { rows: kvHeads, maxLength: maxLen, rowElems: headDim }, slots, base);
}
