/**
 * A minimal protobuf encoder (proto3 wire format, encode only).
 *
 * Why our own: ONNX needs only six message types, we only ever encode, and the
 * weights must be written as large `raw_data` blocks without extra copies. A
 * 100-line writer has no dependency and keeps big byte blocks as references
 * until the one final concatenation.
 *
 * @module
 */

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;

const encoder = new TextEncoder();

/** Accumulates one message as a list of byte chunks (big blocks are kept by reference). */
export class ProtoWriter {
  #chunks: Uint8Array[] = [];
  #scratch: number[] = [];
  #length = 0;

  /** Total encoded length in bytes. */
  get length(): number {
    this.#flush();
    return this.#length;
  }

  #flush(): void {
    if (this.#scratch.length === 0) return;
    this.#chunks.push(Uint8Array.from(this.#scratch));
    this.#length += this.#scratch.length;
    this.#scratch = [];
  }

  #varint(value: number | bigint): void {
    if (typeof value === "number" && value >= 0 && value <= Number.MAX_SAFE_INTEGER) {
      let v = value;
      while (v >= 0x80) {
        this.#scratch.push((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      this.#scratch.push(v);
      return;
    }
    // Negative or huge: 64-bit two's complement, 10 bytes at most.
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.#scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.#scratch.push(Number(v));
  }

  #tag(field: number, wire: number): void {
    this.#varint(field * 8 + wire);
  }

  /** Writes a varint field (int32, int64, enum, bool). */
  int(field: number, value: number | bigint): this {
    this.#tag(field, WIRE_VARINT);
    this.#varint(value);
    return this;
  }

  /** Writes a 32-bit float field. */
  float(field: number, value: number): this {
    this.#tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.#scratch.push(...b);
    return this;
  }

  /** Writes a string field (UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, encoder.encode(value));
  }

  /** Writes a bytes field; the array is kept by reference until {@linkcode ProtoWriter.finish}. */
  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, WIRE_LEN);
    this.#varint(value.byteLength);
    this.#flush();
    if (value.byteLength > 0) {
      this.#chunks.push(value);
      this.#length += value.byteLength;
    }
    return this;
  }

  /** Writes a packed repeated varint field. */
  packedInts(field: number, values: ArrayLike<number | bigint>): this {
    const inner = new ProtoWriter();
    for (let i = 0; i < values.length; i++) inner.#varint(values[i]!);
    return this.message(field, inner);
  }

  /** Writes an embedded message. */
  message(field: number, inner: ProtoWriter): this {
    inner.#flush();
    this.#tag(field, WIRE_LEN);
    this.#varint(inner.#length);
    this.#flush();
    for (const c of inner.#chunks) this.#chunks.push(c);
    this.#length += inner.#length;
    return this;
  }

  /** Appends another writer's fields (same message, no tag). */
  append(other: ProtoWriter): this {
    other.#flush();
    this.#flush();
    for (const c of other.#chunks) this.#chunks.push(c);
    this.#length += other.#length;
    return this;
  }

  /** Concatenates every chunk into one buffer. */
  finish(): Uint8Array {
    this.#flush();
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}
