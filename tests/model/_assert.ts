/**
 * Test assertions over `node:assert/strict` (JSR's @std/assert is unreachable here).
 *
 * @module
 */
import assert from "node:assert/strict";

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  assert.deepStrictEqual(actual, expected, message);
}

/** Asserts `fn` throws an instance of `type` whose message includes `includes`. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  type: new (...args: never[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof type)) throw new Error(`Expected ${type.name}, got ${e}`);
    if (includes !== undefined && !e.message.includes(includes)) {
      throw new Error(`Expected message to include ${JSON.stringify(includes)}, got: ${e.message}`);
    }
    return e;
  }
  throw new Error(`Expected ${type.name} to be thrown`);
}

/** Asserts `fn` rejects with an instance of `type` whose message includes `includes`. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof type)) throw new Error(`Expected ${type.name}, got ${e}`);
    if (includes !== undefined && !e.message.includes(includes)) {
      throw new Error(`Expected message to include ${JSON.stringify(includes)}, got: ${e.message}`);
    }
    return e;
  }
  throw new Error(`Expected ${type.name} to be rejected`);
}

/** Largest absolute difference between two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
