import assert from "node:assert/strict";
import { cudaAvailable, nativeVersions } from "../../lib/runtime/library.ts";
import { SpecDecError, StatusCode } from "../../lib/runtime/errors.ts";
import { Environment } from "../../lib/runtime/environment.ts";
import { Session } from "../../lib/runtime/session.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("nativeVersions() reports the shim and ONNX Runtime 1.29", () => {
  const v = nativeVersions();
  assert.equal(v.specdec, "0.1.0");
  assert.match(v.onnxruntime, /^1\.29\./);
  assert.ok(v.path.endsWith("libspecdec.so"), v.path);
});

Deno.test("loadLibrary() with a bad SPECDEC_LIB fails listing the path tried", async () => {
  const code = `import { Environment } from "./lib/runtime/environment.ts";
try { new Environment(); } catch (e) { console.log(e.name + ": " + e.code + ": " + e.message); }`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    cwd: ROOT,
    env: { SPECDEC_LIB: "/no/such/libspecdec.so" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(text.startsWith(`SpecDecError: ${StatusCode.STATE}: `), text);
  assert.ok(text.includes("/no/such/libspecdec.so"), text);
  assert.ok(text.includes("SPECDEC_LIB"), text);
});

Deno.test("Session with cudaDevice fails with UNAVAILABLE when there is no GPU", async () => {
  using env = new Environment();
  const path = `${ROOT}tests/fixtures/onnx/basic.onnx`;
  if (cudaAvailable()) {
    using s = await Session.fromFile(env, path, { cudaDevice: 0 });
    assert.equal(s.inputs.length, 3);
    return;
  }
  await assert.rejects(
    () => Session.fromFile(env, path, { cudaDevice: 0 }),
    (e: unknown) => {
      assert.ok(e instanceof SpecDecError && e.code === StatusCode.UNAVAILABLE, String(e));
      // The message names every missing part: the device, the provider library, or both.
      assert.match(e.message, /cudaDevice 0 cannot be used: /);
      const noDevice = e.message.includes("no CUDA device 0 (");
      const noProvider =
        /no CUDA execution provider at \S+\/libonnxruntime_providers_cuda\.so \(run `deno task setup:gpu`/
          .test(e.message);
      assert.ok(noDevice || noProvider, e.message);
      return true;
    },
  );
});

Deno.test("Session with treeAttention registers the specdec custom op domain", async () => {
  using env = new Environment();
  using s = await Session.fromFile(env, `${ROOT}tests/fixtures/onnx/basic.onnx`, {
    treeAttention: true,
  });
  assert.equal(s.outputs.length, 3);
});
