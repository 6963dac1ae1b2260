/**
 * A bounded first-in first-out queue in front of one generation slot: one
 * request runs at a time, up to `capacity` wait, the rest are refused.
 *
 * @module
 */

/**
 * Thrown by {@linkcode RequestQueue.enter} when every waiting place is taken.
 *
 * @example
 * ```ts
 * import { QueueFullError, RequestQueue } from "@specdec/specdec/cli";
 * const q = new RequestQueue(0);
 * const first = await q.enter();
 * try {
 *   q.enter();
 *   throw new Error("unexpected");
 * } catch (e) {
 *   if (!(e instanceof QueueFullError)) throw e;
 * }
 * first();
 * ```
 */
export class QueueFullError extends Error {
  /** Always `"QueueFullError"`. */
  override get name(): string {
    return "QueueFullError";
  }
}

interface Waiter {
  /** Gives the waiter the slot (and drops its abort listener). */
  resolve: () => void;
  /** Fails the waiter (and drops its abort listener). */
  reject: (reason: unknown) => void;
}

/**
 * One running slot and a bounded FIFO of waiters.
 *
 * @example Two requests in order
 * ```ts
 * import { RequestQueue } from "@specdec/specdec/cli";
 * const q = new RequestQueue(1);
 * const a = q.enter();
 * const b = q.enter();
 * const releaseA = await a;
 * if (q.running !== 1 || q.waiting !== 1) throw new Error();
 * releaseA();
 * const releaseB = await b;
 * releaseB();
 * if (q.running + q.waiting !== 0) throw new Error();
 * ```
 */
export class RequestQueue {
  /** How many may wait behind the running request. */
  readonly capacity: number;
  #running = false;
  #waiters: Waiter[] = [];

  /**
   * Creates the queue.
   *
   * @param capacity Waiting places, `>= 0`.
   */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`capacity must be an integer >= 0, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** Requests running (0 or 1). */
  get running(): number {
    return this.#running ? 1 : 0;
  }

  /** Requests waiting. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Takes the slot, waiting in order behind earlier requests. The place is
   * reserved synchronously: a full queue throws before this returns.
   *
   * @param signal Leaving the queue early: the promise rejects with its reason.
   * @returns A promise of the release function (call it once when done).
   * @throws {QueueFullError} When `capacity` requests already wait.
   */
  enter(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (!this.#running) {
      this.#running = true;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiters.length >= this.capacity) {
      throw new QueueFullError(`${this.#waiters.length} requests are already waiting`);
    }
    return new Promise((resolve, reject) => {
      // Every way out removes the listener: a long-lived signal must not keep waiters alive.
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#releaser());
        },
        reject: (reason) => {
          signal?.removeEventListener("abort", onAbort);
          reject(reason);
        },
      };
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * Rejects every waiting request (shutdown).
   *
   * @param reason The rejection reason.
   */
  rejectWaiting(reason: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(reason);
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next.resolve();
      else this.#running = false;
    };
  }
}
