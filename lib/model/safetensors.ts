/**
 * A safetensors reader of our own: validates the header (size bound, dtypes,
 * shapes, offsets inside the file, no overlap), returns f32 tensors (views of
 * the file bytes when the data is f32 and aligned, converted copies for
 * f16/bf16). {@linkcode SafeTensors.openFile} reads the header only and each
 * tensor when asked, so a large checkpoint is never held whole in memory.
 *
 * @module
 */

import { SpecDecError, StatusCode } from "../runtime/errors.ts";

/** Largest accepted header (JSON) size: 100 MB, as in the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_SIZE: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** One tensor's entry in the header. */
export interface TensorInfo {
  /** Stored dtype (`F32`, `F16`, `BF16`, ...). */
  dtype: string;
  /** Shape. */
  shape: number[];
  /** Byte range `[begin, end)` inside the file (absolute). */
  begin: number;
  /** End of the byte range (absolute, exclusive). */
  end: number;
}

function bad(path: string, what: string): never {
  throw new SpecDecError(`Invalid safetensors file ${path}: ${what}`, StatusCode.IO);
}

/** Converts IEEE half floats to f32. */
function f16ToF32(src: Uint16Array, dst: Float32Array): void {
  const table = new Float32Array(1);
  const bits = new Uint32Array(table.buffer);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // Zero or subnormal: mant * 2^-24.
      dst[i] = (sign ? -1 : 1) * mant * 5.960464477539063e-8;
      continue;
    }
    if (exp === 0x1f) bits[0] = sign | 0x7f800000 | (mant << 13);
    else bits[0] = sign | ((exp + 112) << 23) | (mant << 13);
    dst[i] = table[0]!;
  }
}

function checkHeaderSize(headerSize: bigint, fileSize: number, path: string): number {
  if (headerSize > BigInt(MAX_HEADER_BYTES)) {
    bad(path, `header size ${headerSize} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const n = Number(headerSize);
  if (8 + n > fileSize) {
    bad(path, `header size ${n} runs past the end of the ${fileSize}-byte file`);
  }
  return n;
}

/** Reads exactly `length` bytes at `offset` into a fresh buffer. */
function readAt(file: Deno.FsFile, offset: number, length: number, path: string): Uint8Array {
  const out = new Uint8Array(length);
  try {
    file.seekSync(offset, Deno.SeekMode.Start);
    let at = 0;
    while (at < length) {
      const n = file.readSync(out.subarray(at));
      if (n === null || n === 0) bad(path, `file ended at byte ${offset + at} (truncated?)`);
      at += n;
    }
  } catch (cause) {
    if (cause instanceof SpecDecError) throw cause;
    throw new SpecDecError(`Cannot read ${path}: ${(cause as Error).message}`, StatusCode.IO, {
      cause,
    });
  }
  return out;
}

/** Parses and validates the JSON header; data starts at `dataStart` in a `fileSize` file. */
function parseHeader(
  headerBytes: Uint8Array,
  dataStart: number,
  fileSize: number,
  path: string,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (cause) {
    throw new SpecDecError(
      `Invalid safetensors file ${path}: header is not JSON (${(cause as Error).message})`,
      StatusCode.IO,
      { cause },
    );
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    bad(path, "header is not a JSON object");
  }
  const dataLength = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry === "object" && entry !== null) metadata = entry as Record<string, string>;
      continue;
    }
    if (typeof entry !== "object" || entry === null) {
      bad(path, `entry "${name}" is not an object`);
    }
    const e = entry as Record<string, unknown>;
    const dtype = e.dtype;
    if (typeof dtype !== "string" || !(dtype in DTYPE_SIZE)) {
      bad(path, `tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)}`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(path, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 ||
      !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]
    ) {
      bad(path, `tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [b, en] = off as [number, number];
    const expected = (shape as number[]).reduce((a, d) => a * d, 1) * DTYPE_SIZE[dtype]!;
    if (en - b !== expected) {
      bad(
        path,
        `tensor "${name}" spans ${
          en - b
        } bytes but dtype ${dtype} shape [${shape}] needs ${expected}`,
      );
    }
    if (en > dataLength) {
      bad(
        path,
        `tensor "${name}" data_offsets [${b}, ${en}] run past the data section (${dataLength} bytes; file truncated?)`,
      );
    }
    tensors.set(name, {
      dtype,
      shape: shape as number[],
      begin: dataStart + b,
      end: dataStart + en,
    });
  }
  const sorted = [...tensors.entries()].sort((x, y) => x[1].begin - y[1].begin);
  for (let i = 1; i < sorted.length; i++) {
    const [pn, p] = sorted[i - 1]!;
    const [cn, c] = sorted[i]!;
    if (c.begin < p.end) bad(path, `tensors "${pn}" and "${cn}" overlap`);
  }
  return { tensors, metadata };
}

/**
 * A parsed safetensors file held in memory.
 *
 * @example Reading a tensor
 * ```ts
 * import { SafeTensors } from "@specdec/specdec";
 * using st = await SafeTensors.open("models/tiny-target/model.safetensors");
 * const emb = st.float32("model.embed_tokens.weight"); // [vocab, hidden] f32
 * if (emb.length !== 4096 * 128) throw new Error("unexpected");
 * ```
 */
export class SafeTensors implements Disposable {
  /** The file path (for messages). */
  readonly path: string;
  /** Metadata strings from `__metadata__`. */
  readonly metadata: Record<string, string>;
  #bytes: Uint8Array | undefined;
  #file: Deno.FsFile | undefined;
  #tensors: Map<string, TensorInfo>;

  /** @ignore */
  private constructor(
    path: string,
    source: Uint8Array | Deno.FsFile,
    tensors: Map<string, TensorInfo>,
    metadata: Record<string, string>,
  ) {
    this.path = path;
    if (source instanceof Uint8Array) this.#bytes = source;
    else this.#file = source;
    this.#tensors = tensors;
    this.metadata = metadata;
  }

  /**
   * Opens a file and reads its header only; tensors are read from the file when asked, so
   * memory holds one tensor at a time. Close it (or `using`) when done.
   *
   * @param path The `.safetensors` file.
   * @returns The parsed file, reading lazily.
   * @throws {SpecDecError} When unreadable or malformed (the path and the defect are named).
   */
  static async openFile(path: string): Promise<SafeTensors> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (cause) {
      throw new SpecDecError(`Cannot read ${path}: ${(cause as Error).message}`, StatusCode.IO, {
        cause,
      });
    }
    try {
      const size = (await file.stat()).size;
      if (size < 8) bad(path, `file is ${size} bytes, shorter than the 8-byte header size`);
      const head = readAt(file, 0, 8, path);
      const n = checkHeaderSize(new DataView(head.buffer).getBigUint64(0, true), size, path);
      const header = readAt(file, 8, n, path);
      const { tensors, metadata } = parseHeader(header, 8 + n, size, path);
      return new SafeTensors(path, file, tensors, metadata);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /** Closes the file of {@linkcode SafeTensors.openFile} (idempotent; no-op in memory). */
  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }

  /** Same as {@linkcode SafeTensors.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Reads and validates a file.
   *
   * @param path The `.safetensors` file.
   * @returns The parsed file.
   * @throws {SpecDecError} When unreadable or malformed (the path and the defect are named).
   */
  static async open(path: string): Promise<SafeTensors> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (cause) {
      throw new SpecDecError(`Cannot read ${path}: ${(cause as Error).message}`, StatusCode.IO, {
        cause,
      });
    }
    return SafeTensors.fromBytes(bytes, path);
  }

  /**
   * Parses and validates file bytes (kept by reference).
   *
   * @param bytes The whole file.
   * @param path A name for messages.
   * @returns The parsed file.
   * @throws {SpecDecError} When malformed.
   */
  static fromBytes(bytes: Uint8Array, path = "<bytes>"): SafeTensors {
    if (bytes.byteLength < 8) {
      bad(path, `file is ${bytes.byteLength} bytes, shorter than the 8-byte header size`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = checkHeaderSize(view.getBigUint64(0, true), bytes.byteLength, path);
    const { tensors, metadata } = parseHeader(
      bytes.subarray(8, 8 + n),
      8 + n,
      bytes.byteLength,
      path,
    );
    return new SafeTensors(path, bytes, tensors, metadata);
  }

  /** Tensor names in file order. */
  get names(): string[] {
    return [...this.#tensors.keys()];
  }

  /**
   * Whether a tensor exists.
   *
   * @param name Tensor name.
   * @returns Whether the file holds it.
   */
  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  /**
   * A tensor's header entry.
   *
   * @param name Tensor name.
   * @returns Its header entry.
   * @throws {SpecDecError} When absent (named).
   */
  info(name: string): TensorInfo {
    const t = this.#tensors.get(name);
    if (!t) throw new SpecDecError(`Tensor "${name}" not found in ${this.path}`, StatusCode.IO);
    return t;
  }

  /**
   * The tensor as f32: a view of the file bytes when stored as aligned F32,
   * else a converted copy (F16, BF16, unaligned F32, F64).
   *
   * @param name Tensor name.
   * @param shape Expected shape; a mismatch throws (the tensor and both shapes are named).
   * @returns Row-major data.
   * @throws {SpecDecError} When absent, of a non-float dtype, or of another shape.
   */
  float32(name: string, shape?: number[]): Float32Array {
    const t = this.info(name);
    if (shape && (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i]))) {
      throw new SpecDecError(
        `Tensor "${name}" in ${this.path} has shape [${t.shape}], expected [${shape}]`,
        StatusCode.IO,
      );
    }
    const count = t.shape.reduce((a, d) => a * d, 1);
    let abs: number, buf: ArrayBufferLike;
    if (this.#bytes) {
      abs = this.#bytes.byteOffset + t.begin;
      buf = this.#bytes.buffer;
    } else if (this.#file) {
      const raw = readAt(this.#file, t.begin, t.end - t.begin, this.path); // fresh, aligned
      abs = 0;
      buf = raw.buffer;
    } else {
      throw new SpecDecError(`${this.path} is closed`, StatusCode.STATE);
    }
    switch (t.dtype) {
      case "F32":
        if (abs % 4 === 0) return new Float32Array(buf, abs, count);
        return new Float32Array(buf.slice(abs, abs + count * 4));
      case "F16":
      case "BF16": {
        const raw = abs % 2 === 0
          ? new Uint16Array(buf, abs, count)
          : new Uint16Array(buf.slice(abs, abs + count * 2));
        const out = new Float32Array(count);
        if (t.dtype === "F16") f16ToF32(raw, out);
        else {
          const bits = new Uint32Array(out.buffer);
          for (let i = 0; i < count; i++) bits[i] = raw[i]! << 16;
        }
        return out;
      }
      case "F64": {
        const view = new DataView(buf, abs, count * 8);
        const out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
        return out;
      }
      default:
        throw new SpecDecError(
          `Tensor "${name}" in ${this.path} has dtype ${t.dtype}, expected a float type`,
          StatusCode.IO,
        );
    }
  }
}
