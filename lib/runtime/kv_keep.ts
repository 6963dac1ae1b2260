/**
 * `kvKeep`: in-place compaction of accepted KV-cache slots, across many layer buffers in one
 * native call (`sd_kv_keep`).
 *
 * @module
 */

import { loadLibrary } from "./library.ts";
import { addressOf, ERR_CAP, readErr } from "./_ffi.ts";
import { SpecDecError } from "./errors.ts";
import type { TensorData } from "./tensor.ts";

/** Layout of the KV buffers handed to {@linkcode kvKeep}: `[rows, maxLength, rowElems]`. */
export interface KvLayout {
  /** Rows: batch x KV heads. */
  rows: number;
  /** Slots per row (the cache capacity in tokens). */
  maxLength: number;
  /** Elements per slot (the head dim). */
  rowElems: number;
}

function checkInt(value: number, name: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  }
}

/**
 * Moves, in every buffer and every row, the entry at slot `slots[j]` to slot `base + j`: the KV
 * entries of an accepted tree path follow the kept prefix `[0, base)`. Nothing is reallocated.
 *
 * @param buffers KV buffers `[rows, maxLength, rowElems]` (e.g. every layer's key and value),
 *   all of one element type.
 * @param layout Rows, slots per row and elements per slot.
 * @param slots Slots to keep, strictly increasing, `slots[j] >= base + j`, `< maxLength`.
 * @param base First slot to write (the kept prefix length).
 * @throws {TypeError} / {RangeError} For bad arguments (checked before any memory moves).
 * @throws {SpecDecError} If the native check disagrees (it re-validates everything).
 *
 * @example Keeping slots 5 and 7 after a prefix of 4
 * ```ts
 * import { kvKeep } from "@specdec/specdec";
 * const k = new Float32Array(2 * 16 * 8); // [2 rows, 16 slots, 8 elems] f32
 * k[7 * 8] = 1; // row 0, slot 7
 * kvKeep([k], { rows: 2, maxLength: 16, rowElems: 8 }, [5, 7], 4);
 * if (k[5 * 8] !== 1) throw new Error("slot 7 should now be at slot 5");
 * ```
 */
export function kvKeep(
  buffers: readonly TensorData[],
  layout: KvLayout,
  slots: ArrayLike<number>,
  base: number,
): void {
  if (!Array.isArray(buffers)) throw new TypeError("buffers must be an array of typed arrays");
  checkInt(layout.rows, "layout.rows", 0);
  checkInt(layout.maxLength, "layout.maxLength", 0);
  checkInt(layout.rowElems, "layout.rowElems", 0);
  checkInt(base, "base", 0);
  const elems = layout.rows * layout.maxLength * layout.rowElems;
  let elemSize = 0;
  const table = new BigUint64Array(Math.max(1, buffers.length) * 2); // [n, 2] (pointer, bytes)
  buffers.forEach((buf, i) => {
    if (!ArrayBuffer.isView(buf) || buf instanceof DataView) {
      throw new TypeError(`buffers[${i}] must be a typed array`);
    }
    const b = buffers[i] as TensorData;
    if (i === 0) elemSize = b.BYTES_PER_ELEMENT;
    if (b.BYTES_PER_ELEMENT !== elemSize) {
      throw new TypeError(
        `buffers[${i}] has ${b.BYTES_PER_ELEMENT}-byte elements, buffers[0] ${elemSize}`,
      );
    }
    if (b.length !== elems) {
      throw new RangeError(
        `buffers[${i}] must have rows * maxLength * rowElems = ${elems} elements, got ${b.length}`,
      );
    }
    table[2 * i] = BigInt.asUintN(64, addressOf(b));
    table[2 * i + 1] = BigInt(b.byteLength);
  });
  const s = Int32Array.from(slots);
  for (let j = 0; j < s.length; j++) {
    const v = s[j] as number;
    if (v !== slots[j]) throw new RangeError(`slots[${j}] must be an int32, got ${slots[j]}`);
    if (v < base + j) {
      throw new RangeError(`slots[${j}] = ${v} must be >= base + ${j} = ${base + j}`);
    }
    if (j > 0 && v <= (s[j - 1] as number)) {
      throw new RangeError(
        `slots must be strictly increasing: slots[${j}] = ${v} after ${s[j - 1]}`,
      );
    }
    if (v >= layout.maxLength) {
      throw new RangeError(`slots[${j}] = ${v} must be < layout.maxLength ${layout.maxLength}`);
    }
  }
  if (buffers.length === 0 || s.length === 0) return;
  const err = new Uint8Array(ERR_CAP);
  const status = loadLibrary().symbols.sd_kv_keep(
    table,
    BigInt(buffers.length),
    BigInt(layout.rows),
    BigInt(layout.maxLength),
    BigInt(layout.rowElems),
    elemSize,
    s,
    BigInt(s.length),
    BigInt(base),
    err,
    BigInt(ERR_CAP),
  );
  if (status !== 0) throw new SpecDecError(`kvKeep failed: ${readErr(err)}`, status);
}
