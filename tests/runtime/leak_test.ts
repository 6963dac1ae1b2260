import assert from "node:assert/strict";
import { Environment } from "../../lib/runtime/environment.ts";
import { Session } from "../../lib/runtime/session.ts";
import { tensor } from "../../lib/runtime/tensor.ts";

const FIXTURES = new URL("../fixtures/onnx/", import.meta.url).pathname;
const gc = (globalThis as { gc?: () => void }).gc;

Deno.test("Session.run() 10,000 times keeps resident memory bounded", async () => {
  using env = new Environment();
  using session = await Session.fromFile(env, `${FIXTURES}basic.onnx`, { intraOpThreads: 1 });
  const x = tensor("float32", [2, 4], new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]));
  const bias = tensor("float32", [4], new Float32Array([1, 1, 1, 1]));
  const ids = tensor("int64", [2], new BigInt64Array([0n, 1n]));
  const sum = tensor("float32", [2, 4]);
  const proj = tensor("float32", [2, 2]);
  session.bindInput("bias", bias);
  session.bindOutput("proj", proj);
  const runs = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      x.data[0] = i;
      await session.run({ x, ids }, { sum });
      if (sum.data[0] !== i + 1) throw new Error(`run ${i}: sum[0] = ${sum.data[0]}`);
    }
  };
  // Warm up: ONNX Runtime's arenas, malloc and V8's heap grow over the first ~10,000 runs
  // (measured: 3-5 MiB), then stay flat.
  await runs(10_000);
  gc?.();
  const before = Deno.memoryUsage().rss;
  await runs(10_000);
  gc?.();
  const growth = Deno.memoryUsage().rss - before;
  // A leak of even one small allocation per run (an OrtValue is ~200 bytes) would exceed this.
  assert.ok(growth < 4 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB`);
  // the bound output is written too: row [5, 6, 7, 8] @ W = [5 + 7 + 16, 6 + 7 - 8]
  assert.deepEqual([...proj.data.subarray(2)], [28, 5]);
});

Deno.test({
  name: "Session finalizers free unclosed sessions safely (needs --v8-flags=--expose-gc)",
  ignore: gc === undefined,
  async fn(): Promise<void> {
    const env = new Environment();
    const path = `${FIXTURES}basic.onnx`;
    for (let i = 0; i < 20; i++) {
      // not closed: left to the FinalizationRegistry
      const s = await Session.fromFile(env, path);
      s.bindInput("bias", tensor("float32", [4]));
    }
    for (let i = 0; i < 5; i++) {
      gc!();
      await new Promise((r) => setTimeout(r, 10));
    }
    using live = await Session.fromFile(env, path);
    const sum = tensor("float32", [1, 4]);
    await live.run(
      { x: tensor("float32", [1, 4]), bias: tensor("float32", [4]), ids: tensor("int64", [1]) },
      { sum },
    );
    assert.deepEqual([...sum.data], [0, 0, 0, 0]);
    live.close();
    env.close();
    // an unclosed environment too
    new Environment();
    gc!();
    await new Promise((r) => setTimeout(r, 10));
  },
});
