import assert from "node:assert/strict";
import { Environment } from "../../lib/runtime/environment.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("Environment rejects bad options before native work", () => {
  assert.throws(() => new Environment({ logLevel: 9 as 0 }), RangeError);
  assert.throws(() => new Environment({ globalIntraOpThreads: -2 }), RangeError);
  assert.throws(() => new Environment({ globalInterOpThreads: 1.5 }), RangeError);
});

Deno.test("Environment with a global thread pool runs sessions; other settings are refused meanwhile", async () => {
  // ONNX Runtime has one environment per process: run in a fresh process.
  const code = `
import { Environment, Session, SpecDecError, tensor } from "./mod.ts";
const env = new Environment({ globalIntraOpThreads: 1, globalSpinning: false });
const s = await Session.fromFile(env, "tests/fixtures/onnx/basic.onnx");
const sum = tensor("float32", [1, 4]);
await s.run({ x: tensor("float32", [1, 4]), bias: tensor("float32", [4], new Float32Array([1, 2, 3, 4])),
  ids: tensor("int64", [1]) }, { sum });
console.log("sum", [...sum.data].join(","));
const own = await Session.fromFile(env, "tests/fixtures/onnx/basic.onnx", { intraOpThreads: 1 });
console.log("own pool", own.inputs.length);
try { new Environment(); } catch (e) { console.log("second", e instanceof SpecDecError, e.code); }
env.close();
const again = new Environment();
console.log("after close", again.closed);
`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, text + new TextDecoder().decode(out.stderr));
  assert.match(text, /^sum 1,2,3,4$/m);
  assert.match(text, /^own pool 3$/m);
  assert.match(text, /^second true 4$/m);
  assert.match(text, /^after close false$/m);
});
