/**
 * Argument checks shared by the model classes (TypeError / RangeError naming the parameter).
 *
 * @module
 */

/** Checks token ids: integers in `[0, vocabSize)`, at least one. */
export function checkIds(ids: ArrayLike<number>, vocabSize: number, name: string): void {
  if (ids === null || typeof ids !== "object" || typeof ids.length !== "number") {
    throw new TypeError(`${name} must be an array of token ids`);
  }
  if (ids.length < 1) throw new RangeError(`${name} must not be empty`);
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= vocabSize) {
      throw new RangeError(`${name}[${i}] = ${v} is not a token id in [0, ${vocabSize})`);
    }
  }
}

/** Checks positions: integers in `[0, maxLength)`. */
export function checkPositions(positions: ArrayLike<number>, maxLength: number): void {
  for (let i = 0; i < positions.length; i++) {
    const v = positions[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= maxLength) {
      throw new RangeError(`positions[${i}] = ${v} is not an integer in [0, ${maxLength})`);
    }
  }
}

/** Checks a tree mask `[S, S]` u8: diagonal set, nothing above it (parents before children). */
export function checkTreeMask(mask: Uint8Array, S: number): void {
  if (!(mask instanceof Uint8Array)) throw new TypeError("treeMask must be a Uint8Array");
  if (mask.length !== S * S) {
    throw new RangeError(`treeMask has ${mask.length} entries, expected S * S = ${S * S}`);
  }
  for (let i = 0; i < S; i++) {
    if (!mask[i * S + i]) {
      throw new RangeError(`treeMask[${i}, ${i}] must be 1 (a node sees itself)`);
    }
    for (let j = i + 1; j < S; j++) {
      if (mask[i * S + j]) {
        throw new RangeError(
          `treeMask[${i}, ${j}] is set: nodes must be ordered parents before children`,
        );
      }
    }
  }
}

/**
 * Validates the slots of a `keep()` call: non-empty, integers in `[0, kvLength)`, strictly
 * increasing.
 *
 * @param slots Absolute cache slots to keep, in order.
 * @param kvLength Current number of cached tokens.
 * @returns The slots as `[n]` i32.
 */
export function checkKeepSlots(slots: ArrayLike<number>, kvLength: number): Int32Array {
  const n = slots.length;
  if (n === 0) throw new RangeError("slots must not be empty");
  const s = new Int32Array(n); // [n] i32
  for (let j = 0; j < n; j++) {
    const v = slots[j]!;
    if (!Number.isInteger(v) || v < 0 || v >= kvLength) {
      throw new RangeError(`slots[${j}] = ${v} must be an integer in [0, ${kvLength})`);
    }
    if (j > 0 && v <= s[j - 1]!) {
      throw new RangeError(
        `slots must be strictly increasing: slots[${j}] = ${v} after ${s[j - 1]}`,
      );
    }
    s[j] = v;
  }
  return s;
}
