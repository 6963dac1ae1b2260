import assert from "node:assert/strict";
import { SpecDecError, StatusCode } from "../../lib/runtime/errors.ts";
import { Environment } from "../../lib/runtime/environment.ts";
import { Session } from "../../lib/runtime/session.ts";
import { tensor } from "../../lib/runtime/tensor.ts";
import { kvKeep } from "../../lib/runtime/kv_keep.ts";

const FIXTURES = new URL("../fixtures/onnx/", import.meta.url).pathname;
const D = 16; // head dim
const MAX = 8; // KV slots

/** Reference attention of one query head over keys/values rows [T][D]. */
function attend(q: Float32Array, keys: Float32Array[], values: Float32Array[]): number[] {
  const scores = keys.map((k) => k.reduce((s, kv, i) => s + kv * (q[i] ?? 0), 0) / Math.sqrt(D));
  const m = Math.max(...scores);
  const w = scores.map((s) => Math.exp(s - m));
  const z = w.reduce((a, b) => a + b, 0);
  return Array.from(
    { length: D },
    (_, i) => w.reduce((s, wj, j) => s + wj * (values[j]?.[i] ?? 0), 0) / z,
  );
}

Deno.test("Session binding: a KV buffer bound as past and present is written in place", async () => {
  using env = new Environment();
  using session = await Session.fromFile(env, `${FIXTURES}kv_inplace.onnx`, { intraOpThreads: 1 });
  const k = tensor("float32", [1, 1, MAX, D]); // [B, kvHeads, maxLen, headDim] f32
  const v = tensor("float32", [1, 1, MAX, D]);
  session.bindInput("past_key", k);
  session.bindOutput("present_key", k);
  session.bindInput("past_value", v);
  session.bindOutput("present_value", v);
  const rng = (i: number): number => Math.sin(i * 12.9898) * 0.5;
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  let past = 0;
  for (const S of [3, 1, 2]) {
    const q = tensor("float32", [1, S, 2 * D]); // 2 query heads share 1 KV head
    const kNew = tensor("float32", [1, S, D]);
    const vNew = tensor("float32", [1, S, D]);
    q.data.forEach((_, i, a) => (a[i] = rng(past * 100 + i)));
    kNew.data.forEach((_, i, a) => (a[i] = rng(past * 100 + i + 7)));
    vNew.data.forEach((_, i, a) => (a[i] = rng(past * 100 + i + 13)));
    const output = tensor("float32", [1, S, 2 * D]);
    await session.run({
      query: q,
      key: kNew,
      value: vNew,
      seqlens_k: tensor("int32", [1], new Int32Array([past + S - 1])),
      total_sequence_length: tensor("int32", [], new Int32Array([past + S])),
    }, { output });
    for (let j = 0; j < S; j++) {
      keys.push(kNew.data.slice(j * D, (j + 1) * D) as Float32Array);
      values.push(vNew.data.slice(j * D, (j + 1) * D) as Float32Array);
      // the new entries sit in the bound buffer at slot past + j
      assert.deepEqual([...k.data.subarray((past + j) * D, (past + j + 1) * D)], [
        ...keys[past + j]!,
      ]);
      assert.deepEqual([...v.data.subarray((past + j) * D, (past + j + 1) * D)], [
        ...values[past + j]!,
      ]);
    }
    // causal attention over the cache, checked for every new token and head
    for (let i = 0; i < S; i++) {
      for (let h = 0; h < 2; h++) {
        const qh = q.data.subarray((i * 2 + h) * D, (i * 2 + h + 1) * D) as Float32Array;
        const want = attend(qh, keys.slice(0, past + i + 1), values.slice(0, past + i + 1));
        const got = output.data.subarray((i * 2 + h) * D, (i * 2 + h + 1) * D);
        want.forEach((w, d) =>
          assert.ok(Math.abs(w - (got[d] ?? NaN)) < 1e-5, `${w} vs ${got[d]}`)
        );
      }
    }
    past += S;
  }
  assert.ok(k.data.subarray(past * D).every((x) => x === 0), "slots past the length are untouched");
  // kvKeep across both buffers: keep slots 4 and 5 after a prefix of 2
  const k4 = k.data.slice(4 * D, 5 * D);
  const v5 = v.data.slice(5 * D, 6 * D);
  kvKeep([k.data, v.data], { rows: 1, maxLength: MAX, rowElems: D }, [4, 5], 2);
  assert.deepEqual([...k.data.subarray(2 * D, 3 * D)], [...k4]);
  assert.deepEqual([...v.data.subarray(3 * D, 4 * D)], [...v5]);
  // a bound input cannot also be fed
  await assert.rejects(
    () => session.run({ past_key: k }, {}),
    (e: unknown) => e instanceof SpecDecError && e.message.includes("'past_key' is bound"),
  );
  session.unbind();
  await assert.rejects(
    () => session.run({}, {}),
    (e: unknown) => e instanceof SpecDecError && e.message.includes("is missing"),
  );
});

Deno.test("Session binding names a wrong bound tensor", async () => {
  using env = new Environment();
  using session = await Session.fromFile(env, `${FIXTURES}kv_inplace.onnx`);
  assert.throws(
    () => session.bindInput("past_key", tensor("float32", [1, 1, 4, D])),
    (e: unknown) =>
      e instanceof SpecDecError && e.code === StatusCode.INVALID_ARGUMENT &&
      e.message.includes("'past_key': dim 2 expected 8, got 4"),
  );
  assert.throws(
    () => session.bindOutput("nope", tensor("float32", [1])),
    (e: unknown) => e instanceof SpecDecError && e.message.includes("'nope'"),
  );
  assert.throws(() => session.unbind("nope"), SpecDecError);
});

Deno.test("kvKeep() validates before moving anything", () => {
  const buf = Float32Array.from({ length: 2 * 5 * 2 }, (_, i) => i); // [2 rows, 5 slots, 2] f32
  const before = buf.slice();
  const layout = { rows: 2, maxLength: 5, rowElems: 2 };
  assert.throws(() => kvKeep([buf], layout, [3, 2], 0), RangeError);
  assert.throws(() => kvKeep([buf], layout, [0], 1), RangeError);
  assert.throws(() => kvKeep([buf], layout, [5], 0), RangeError);
  assert.throws(() => kvKeep([buf], { ...layout, maxLength: 4 }, [2], 0), RangeError);
  assert.throws(() => kvKeep([buf, new Float64Array(20)], layout, [2], 0), TypeError);
  assert.throws(() => kvKeep([buf], layout, [1.5], 0), RangeError);
  assert.deepEqual(buf, before);
  kvKeep([buf], layout, [2, 4], 1);
  assert.deepEqual([...buf.subarray(0, 6)], [0, 1, 4, 5, 8, 9]);
  assert.deepEqual([...buf.subarray(10, 16)], [10, 11, 14, 15, 18, 19]);
});

Deno.test("Session externalInitializers use the caller's memory (no copy)", async () => {
  using env = new Environment();
  const path = `${FIXTURES}external_data.onnx`;
  const x = tensor("float32", [1, 4]);
  const y = tensor("float32", [1, 4]);
  {
    using plain = await Session.fromFile(env, path);
    await plain.run({ x }, { y });
    assert.deepEqual([...y.data], [1, 2, 3, 4]); // W from external_data.bin
  }
  const w = tensor("float32", [4], new Float32Array([10, 20, 30, 40]));
  using session = await Session.fromFile(env, path, { externalInitializers: new Map([["W", w]]) });
  await session.run({ x }, { y });
  assert.deepEqual([...y.data], [10, 20, 30, 40]);
  w.data[0] = 99; // the session reads this very buffer
  await session.run({ x }, { y });
  assert.equal(y.data[0], 99);
  // from bytes: ONNX Runtime must find the external file, so point it at the folder
  const bytes = await Deno.readFile(path);
  using fromBytes = await Session.fromBytes(env, bytes, {
    externalInitializers: new Map([["W", w]]),
    externalDataFolder: FIXTURES,
  });
  await fromBytes.run({ x }, { y });
  assert.equal(y.data[0], 99);
  // ONNX Runtime only checks that the external file exists, it does not read it: a placeholder does
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/external_data.bin`, new Uint8Array(0));
    using placeholder = await Session.fromBytes(env, bytes, {
      externalInitializers: new Map([["W", w]]),
      externalDataFolder: dir,
    });
    await placeholder.run({ x }, { y });
    assert.equal(y.data[0], 99);
    await assert.rejects(
      () =>
        Session.fromBytes(env, bytes, {
          externalInitializers: new Map([["W", w]]),
          externalDataFolder: `${dir}/missing`,
        }),
      (e: unknown) => e instanceof SpecDecError && e.message.includes("external_data.bin"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // from bytes with the external file's contents in memory (copied while loading)
  const file = new Uint8Array(new Float32Array([5, 6, 7, 8]).buffer);
  using inMemory = await Session.fromBytes(env, bytes, {
    externalData: new Map([["external_data.bin", file]]),
  });
  await inMemory.run({ x }, { y });
  assert.deepEqual([...y.data], [5, 6, 7, 8]);
  // ONNX Runtime does not check an initializer's shape at load; a bad one fails the run cleanly
  using wrong = await Session.fromFile(env, path, {
    externalInitializers: new Map([["W", tensor("float32", [5])]]),
  });
  await assert.rejects(() => wrong.run({ x }, { y }), SpecDecError);
});

Deno.test("Session options are validated before native work", async () => {
  using env = new Environment();
  const path = `${FIXTURES}basic.onnx`;
  await assert.rejects(() => Session.fromFile(env, path, { intraOpThreads: -1 }), RangeError);
  await assert.rejects(
    () => Session.fromFile(env, path, { optimizationLevel: 7 as 0 }),
    RangeError,
  );
  await assert.rejects(() => Session.fromFile(env, ""), TypeError);
  using s = await Session.fromFile(env, path, {
    intraOpThreads: 1,
    interOpThreads: 1,
    spinning: false,
    optimizationLevel: 1,
    config: { "session.use_env_allocators": "0" },
  });
  assert.equal(s.inputs.length, 3);
});
