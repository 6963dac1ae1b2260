/**
 * Private FFI helpers: C strings, error buffers, pointers of typed arrays, and the packed
 * `sd_tensor_desc` layout (see `native/include/specdec.h`).
 *
 * @module
 */

import { SpecDecError } from "./errors.ts";
import { DTYPE_INFO, type Tensor, type TensorData } from "./tensor.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Size of the caller-owned error buffers handed to creation calls. */
export const ERR_CAP = 2048;

/**
 * Encodes a string as a NUL-terminated UTF-8 C string (sized in bytes, not UTF-16 units).
 *
 * @param s The string.
 * @returns Its UTF-8 bytes plus a trailing NUL.
 */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/**
 * Reads a NUL-terminated message from a caller-owned error buffer.
 *
 * @param buf The buffer the native call wrote into.
 * @returns The message.
 */
export function readErr(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return decoder.decode(buf.subarray(0, end < 0 ? buf.length : end));
}

/**
 * The address of a typed array's first element (0 for an empty one). The array must stay
 * referenced for as long as native code may use the address.
 *
 * @param data A typed array.
 * @returns Its address.
 */
export function addressOf(data: ArrayBufferView): bigint {
  if (data.byteLength === 0) return 0n;
  void data.buffer; // makes V8 move a small on-heap array to a fixed off-heap store first
  const p = Deno.UnsafePointer.of(data as TensorData);
  return p === null ? 0n : BigInt(Deno.UnsafePointer.value(p));
}

/** Bytes of one packed `sd_tensor_desc`. */
export const DESC_BYTES = 96;

/**
 * A growable buffer of packed `sd_tensor_desc` records:
 * `[n] { i32 index, i32 dtype, i32 rank, i32 reserved, u64 data, u64 byte_length, i64 dims[8] }`.
 */
export class DescBuffer {
  #bytes: Uint8Array<ArrayBuffer>; // [capacity * 96] u8
  #i32: Int32Array; // same memory, 24 words per record
  #i64: BigInt64Array; // same memory, 12 words per record
  /** Number of records written since the last `reset()`. */
  count = 0;

  /** @param capacity Initial number of records. */
  constructor(capacity = 8) {
    this.#bytes = new Uint8Array(Math.max(1, capacity) * DESC_BYTES);
    this.#i32 = new Int32Array(this.#bytes.buffer);
    this.#i64 = new BigInt64Array(this.#bytes.buffer);
  }

  /** Forgets the records (keeps the memory). */
  reset(): void {
    this.count = 0;
  }

  /**
   * Appends a record for a checked tensor.
   *
   * @param index Input or output index in the session.
   * @param t The tensor (already validated with `checkTensor`).
   */
  push(index: number, t: Tensor): void {
    if ((this.count + 1) * DESC_BYTES > this.#bytes.length) {
      const grown = new Uint8Array(this.#bytes.length * 2);
      grown.set(this.#bytes);
      this.#bytes = grown;
      this.#i32 = new Int32Array(grown.buffer);
      this.#i64 = new BigInt64Array(grown.buffer);
    }
    const w = this.count * 24;
    const q = this.count * 12;
    this.#i32[w] = index;
    this.#i32[w + 1] = DTYPE_INFO[t.dtype].code;
    this.#i32[w + 2] = t.dims.length;
    this.#i32[w + 3] = 0;
    this.#i64[q + 2] = addressOf(t.data);
    this.#i64[q + 3] = BigInt(t.data.byteLength);
    for (let i = 0; i < 8; i++) this.#i64[q + 4 + i] = BigInt(t.dims[i] ?? 0);
    this.count++;
  }

  /** The packed records (a view; valid until the next `push`). */
  get bytes(): Uint8Array<ArrayBuffer> {
    return this.#bytes.subarray(0, this.count * DESC_BYTES);
  }
}

/**
 * Throws a {@linkcode SpecDecError} for a failed status.
 *
 * @param status The `sd_status` a call returned.
 * @param message The native message (read from the handle or error buffer).
 * @param context What was being done, prefixed to the message.
 */
export function check(status: number, message: () => string, context: string): void {
  if (status === 0) return;
  const msg = message();
  throw new SpecDecError(`${context}: ${msg === "" ? `status ${status}` : msg}`, status);
}
