import assert from "node:assert/strict";
import { SpecDecError, StatusCode } from "../../lib/runtime/errors.ts";
import { Environment } from "../../lib/runtime/environment.ts";
import { Session } from "../../lib/runtime/session.ts";
import { type Tensor, tensor } from "../../lib/runtime/tensor.ts";

const FIXTURES = new URL("../fixtures/onnx/", import.meta.url).pathname;
const BASIC = `${FIXTURES}basic.onnx`;

function basicFeeds(n: number): { x: Tensor; bias: Tensor; ids: Tensor } {
  const x = tensor("float32", [n, 4]);
  x.data.forEach((_, i, a) => (a[i] = i + 1));
  return {
    x,
    bias: tensor("float32", [4], new Float32Array([0.5, 1, 1.5, 2])),
    ids: tensor("int64", [n], BigInt64Array.from({ length: n }, (_, i) => BigInt((4 - i) % 5))),
  };
}

async function assertRejectsWith(
  fn: () => Promise<unknown>,
  code: number,
  ...parts: string[]
): Promise<SpecDecError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SpecDecError, `expected SpecDecError, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  for (const part of parts) {
    assert.ok(caught.message.includes(part), `${caught.message} lacks ${part}`);
  }
  return caught;
}

Deno.test("Session.fromFile() reads metadata and run() computes the numbers", async () => {
  using env = new Environment();
  using session = await Session.fromFile(env, BASIC, { intraOpThreads: 1 });
  assert.deepEqual(session.inputs.map((i) => [i.name, i.dtype, i.dims]), [
    ["x", "float32", [-1, 4]],
    ["bias", "float32", [4]],
    ["ids", "int64", [-1]],
  ]);
  assert.deepEqual(session.outputs.map((o) => o.name), ["sum", "proj", "emb"]);
  const feeds = basicFeeds(2);
  const sum = tensor("float32", [2, 4]);
  const proj = tensor("float32", [2, 2]);
  const emb = tensor("float32", [2, 2]);
  await session.run(feeds, { sum, proj, emb });
  assert.deepEqual([...sum.data], [1.5, 3, 4.5, 6, 5.5, 7, 8.5, 10]);
  // W = [[1,0],[0,1],[1,1],[2,-1]]
  assert.deepEqual([...proj.data], [1 + 3 + 8, 2 + 3 - 4, 5 + 7 + 16, 6 + 7 - 8]);
  assert.deepEqual([...emb.data], [40, 41, 30, 31]);
  // a subarray view is passed at its own offset
  const big = new Float32Array(12);
  const view = big.subarray(4);
  await session.run(feeds, { sum: tensor("float32", [2, 4], view) });
  assert.deepEqual([...big.subarray(0, 4)], [0, 0, 0, 0]);
  assert.equal(big[4], 1.5);
});

Deno.test("Session.fromBytes() runs the same model", async () => {
  using env = new Environment();
  const bytes = await Deno.readFile(BASIC);
  using session = await Session.fromBytes(env, bytes);
  const proj = tensor("float32", [1, 2]);
  await session.run(basicFeeds(1), { proj });
  assert.deepEqual([...proj.data], [12, 1]);
});

Deno.test("Session.fromFile() names a missing path", async () => {
  using env = new Environment();
  await assertRejectsWith(
    () => Session.fromFile(env, "/no/such/model.onnx"),
    StatusCode.IO,
    "/no/such/model.onnx",
  );
});

Deno.test("Session rejects garbage and truncated model bytes without crashing", async () => {
  using env = new Environment();
  const dir = await Deno.makeTempDir();
  try {
    const garbage = `${dir}/garbage.onnx`;
    await Deno.writeTextFile(garbage, "this is not a model");
    await assertRejectsWith(() => Session.fromFile(env, garbage), StatusCode.IO, garbage);
    const bytes = await Deno.readFile(`${FIXTURES}kv_inplace.onnx`);
    const truncated = `${dir}/truncated.onnx`;
    await Deno.writeFile(truncated, bytes.subarray(0, bytes.length >> 1));
    const err = await assertRejectsWith(() => Session.fromFile(env, truncated), StatusCode.IO);
    assert.ok(err.message.includes(truncated), err.message);
    await assertRejectsWith(() => Session.fromBytes(env, new Uint8Array([1, 2, 3])), StatusCode.IO);
    await assertRejectsWith(() => Session.fromBytes(env, new Uint8Array(0)), StatusCode.IO);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Session.run() names a wrong input name, dtype or shape", async () => {
  using env = new Environment();
  using session = await Session.fromFile(env, BASIC);
  const sum = tensor("float32", [2, 4]);
  const feeds = basicFeeds(2);
  await assertRejectsWith(
    () => session.run({ ...feeds, nope: tensor("float32", [1]) }, { sum }),
    StatusCode.INVALID_ARGUMENT,
    "nope",
  );
  await assertRejectsWith(
    () => session.run({ ...feeds, ids: tensor("int32", [2]) }, { sum }),
    StatusCode.INVALID_ARGUMENT,
    "'ids'",
    "dtype expected int64, got int32",
  );
  await assertRejectsWith(
    () => session.run({ ...feeds, bias: tensor("float32", [3]) }, { sum }),
    StatusCode.INVALID_ARGUMENT,
    "'bias'",
    "dim 0 expected 4, got 3",
  );
  await assertRejectsWith(
    () => session.run({ ...feeds, x: tensor("float32", [2, 4, 1]) }, { sum }),
    StatusCode.INVALID_ARGUMENT,
    "'x'",
    "rank expected 2, got 3",
  );
  await assertRejectsWith(
    () => session.run({ x: feeds.x, bias: feeds.bias }, { sum }),
    StatusCode.INVALID_ARGUMENT,
    "'ids' is missing",
  );
  await assertRejectsWith(
    () => session.run(feeds, { sum: tensor("float32", [3, 4]) }),
    StatusCode.INVALID_ARGUMENT,
    "sum",
  );
  await assert.rejects(
    () =>
      session.run({ ...feeds, x: { dtype: "float32", dims: [2, 4], data: new Float32Array(7) } }),
    RangeError,
  );
  await assert.rejects(
    () => session.run({ ...feeds, x: { dtype: "float32", dims: [2, 4], data: new Int32Array(8) } }),
    TypeError,
  );
  // still usable afterwards
  await session.run(feeds, { sum });
  assert.equal(sum.data[0], 1.5);
});

Deno.test("Session refuses use after close() and a second concurrent run", async () => {
  using env = new Environment();
  const session = await Session.fromFile(env, BASIC);
  const feeds = basicFeeds(1);
  const sum = tensor("float32", [1, 4]);
  const first = session.run(feeds, { sum });
  await assertRejectsWith(() => session.run(feeds, { sum }), StatusCode.STATE, "busy");
  await first;
  session.close();
  session.close(); // idempotent
  assert.equal(session.closed, true);
  await assertRejectsWith(() => session.run(feeds, { sum }), StatusCode.STATE, "closed");
  assert.throws(() => session.bindInput("x", feeds.x), SpecDecError);
});

Deno.test("Session.close() during a run frees the session once the run settles", async () => {
  using env = new Environment();
  const session = await Session.fromFile(env, BASIC);
  const sum = tensor("float32", [1, 4]);
  const pending = session.run(basicFeeds(1), { sum });
  session.close();
  await pending;
  assert.equal(sum.data[0], 1.5);
  assert.equal(session.closed, true);
});

Deno.test("Environment.close() closes its sessions first", async () => {
  const env = new Environment();
  const session = await Session.fromFile(env, BASIC);
  env.close();
  assert.equal(session.closed, true);
  await assertRejectsWith(() => Session.fromFile(env, BASIC), StatusCode.STATE, "closed");
});

Deno.test("run({ blocking: true }) computes the same numbers and lets timers fire between runs", async () => {
  using env = new Environment();
  using session = await Session.fromFile(env, BASIC, { intraOpThreads: 1 });
  const feeds = basicFeeds(3);
  const onWorker = tensor("float32", [3, 2]);
  const onCaller = tensor("float32", [3, 2]);
  await session.run(feeds, { proj: onWorker });
  await session.run(feeds, { proj: onCaller }, { blocking: true });
  assert.deepEqual([...onCaller.data], [...onWorker.data]);
  // A loop of blocking runs still yields to the event loop: a zero-delay timer set before it
  // fires while it runs, not after it (awaiting a blocking run alone is only a microtask).
  const runs = 50;
  let done = 0, firedAt = -1;
  const timer = setTimeout(() => (firedAt = done), 0);
  while (done < runs) {
    await session.run(feeds, { proj: onCaller }, { blocking: true });
    done++;
  }
  clearTimeout(timer);
  assert.ok(firedAt >= 0 && firedAt < runs, `timer fired after run ${firedAt} of ${runs}`);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => session.run(feeds, { proj: onCaller }, null as any),
    /options must be an object/,
  );
});
