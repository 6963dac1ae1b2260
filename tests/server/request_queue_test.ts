// RequestQueue: order, capacity, and that no way out of the queue leaves an abort listener behind.

import assert from "node:assert/strict";
import { QueueFullError, RequestQueue } from "../../lib/server/request_queue.ts";

/** A signal that never aborts, counting the abort listeners attached to it. */
function countingSignal(): { signal: AbortSignal; listeners: () => number } {
  const signal = new AbortController().signal;
  let n = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    n++;
    add(...args);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    n--;
    remove(...args);
  }) as typeof signal.removeEventListener;
  return { signal, listeners: () => n };
}

Deno.test("RequestQueue serves in order and refuses past its capacity", async () => {
  const q = new RequestQueue(1);
  const a = await q.enter();
  const b = q.enter();
  assert.throws(() => q.enter(), QueueFullError);
  assert.deepEqual([q.running, q.waiting], [1, 1]);
  a();
  const releaseB = await b;
  assert.deepEqual([q.running, q.waiting], [1, 0]);
  releaseB();
  assert.deepEqual([q.running, q.waiting], [0, 0]);
});

Deno.test("RequestQueue.enter() drops its abort listener when the waiter is served", async () => {
  const q = new RequestQueue(1);
  const first = await q.enter();
  const { signal, listeners } = countingSignal();
  const second = q.enter(signal);
  assert.equal(listeners(), 1);
  first();
  (await second)();
  assert.equal(listeners(), 0);
});

Deno.test("RequestQueue.rejectWaiting() drops the waiters' abort listeners", async () => {
  const q = new RequestQueue(2);
  const first = await q.enter();
  const a = countingSignal();
  const b = countingSignal();
  const waiting = [q.enter(a.signal), q.enter(b.signal)];
  q.rejectWaiting(new Error("shutting down"));
  for (const w of waiting) await assert.rejects(w, /shutting down/);
  assert.equal(a.listeners() + b.listeners(), 0);
  assert.equal(q.waiting, 0);
  first();
  assert.equal(q.running, 0);
});

Deno.test("RequestQueue: a waiter that aborts leaves the queue and the slot passes on", async () => {
  const q = new RequestQueue(2);
  const first = await q.enter();
  const ac = new AbortController();
  const leaving = q.enter(ac.signal);
  const staying = q.enter();
  ac.abort(new Error("gone"));
  await assert.rejects(leaving, /gone/);
  assert.equal(q.waiting, 1);
  first();
  (await staying)();
  assert.deepEqual([q.running, q.waiting], [0, 0]);
});
