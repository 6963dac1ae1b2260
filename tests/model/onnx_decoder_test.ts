import { assertEquals, assertRejects, maxAbsDiff } from "./_assert.ts";
import { OnnxDecoder } from "../../lib/model/onnx_decoder.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";
import { argmaxRow, randomReference } from "./_reference.ts";

// tests/fixtures/random/{llama,gpt2}-onnx/model.onnx: scripts/export_onnx.py (torch.onnx.export)
// of tests/fixtures/random/{llama,gpt2}, in the optimum / transformers.js layout.
const EXPORTS = new URL("../fixtures/random/", import.meta.url).pathname;
const EXPORT = `${EXPORTS}llama-onnx`;

for (const name of ["llama", "gpt2"]) {
  Deno.test(`OnnxDecoder matches transformers on an export of random ${name}`, async () => {
    const ref = randomReference(name).cases[0]!;
    using lm = await OnnxDecoder.load(`${EXPORTS}${name}-onnx`, { maxLength: 128, threads: 1 });
    assertEquals(lm.vocabSize, 256);
    const V = lm.vocabSize;
    const n = ref.promptIds.length;
    const { logits } = await lm.prefill(ref.promptIds);
    const d = maxAbsDiff(logits.subarray((n - 1) * V), ref.lastLogits!);
    if (!(d <= 1e-3)) throw new Error(`last logits differ by ${d}`);
    const out: number[] = [];
    let next = argmaxRow(logits, n - 1, V);
    for (let i = 0; i < ref.greedy.length; i++) {
      out.push(next);
      if (i + 1 === ref.greedy.length) break;
      next = argmaxRow((await lm.forward([next], [lm.kvLength])).logits, 0, V);
    }
    assertEquals(out, ref.greedy);
  });
}

Deno.test("OnnxDecoder chain forward, rewind and keep equal a fresh prefill", async () => {
  const prompt = randomReference("llama").cases[0]!.promptIds;
  const P = prompt.length;
  using lm = await OnnxDecoder.load(EXPORT, { maxLength: 64, threads: 1 });
  const V = lm.vocabSize;
  const draft = [5, 9, 11, 13];
  const fresh = await lm.prefill([...prompt, 5, 9, 77]);
  await lm.prefill(prompt);
  await lm.forward(draft, [P, P + 1, P + 2, P + 3]);
  lm.rewind(P + 2); // accept 5, 9
  const r = await lm.forward([77], [P + 2]);
  const d = maxAbsDiff(r.logits, fresh.logits.subarray((P + 2) * V));
  if (!(d <= 1e-4)) throw new Error(`rewind: differs by ${d}`);
  await lm.prefill(prompt);
  await lm.forward([5, 9, 1, 2], [P, P + 1, P + 2, P + 3]);
  lm.keep([P, P + 1]); // a chain keeps a prefix of its new tokens
  const k = await lm.forward([77], [P + 2]);
  const d2 = maxAbsDiff(k.logits, fresh.logits.subarray((P + 2) * V));
  if (!(d2 <= 1e-4)) throw new Error(`keep: differs by ${d2}`);
});

Deno.test("OnnxDecoder refuses a tree mask and hidden states with a clear error", async () => {
  using lm = await OnnxDecoder.load(EXPORT, { maxLength: 16, threads: 1 });
  await assertRejects(
    () => lm.forward([1, 2], [0, 1], { treeMask: new Uint8Array([1, 0, 1, 1]) }),
    TypeError,
    "treeMask is not supported",
  );
  await assertRejects(() => lm.prefill([1], { hidden: true }), TypeError, "hidden");
  await lm.prefill([1, 2, 3]);
  await assertRejects(
    () => lm.forward(new Array(14).fill(1), new Array(14).fill(3)),
    RangeError,
    "exceeds maxLength 16",
  );
});

Deno.test("OnnxDecoder.load() names a missing file and a model without the decoder layout", async () => {
  await assertRejects(
    () => OnnxDecoder.load("/nonexistent"),
    SpecDecError,
    "/nonexistent/model.onnx",
  );
  // A graph that is not a decoder (our own builder's output lacks past_key_values.N.*).
  const { GraphBuilder } = await import("../../lib/model/onnx/graph_builder.ts");
  const g = new GraphBuilder("not_a_decoder");
  g.input("input_ids", "int64", [1, "S"]);
  g.output(g.op("Cast", ["input_ids"], { to: 1 }, "", "logits"), "float32", [1, "S"]);
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/model.onnx`, g.toModel());
  await assertRejects(() => OnnxDecoder.load(dir), SpecDecError, "not an optimum-layout decoder");
  await Deno.remove(dir, { recursive: true });
});
