import { assertEquals, maxAbsDiff } from "./_assert.ts";
import { ProtoWriter } from "../../lib/model/onnx/_proto_writer.ts";
import { GraphBuilder } from "../../lib/model/onnx/graph_builder.ts";
import { buildLlamaGraph } from "../../lib/model/graph/llama.ts";
import { readModelConfig } from "../../lib/model/config.ts";
import { SafeTensors } from "../../lib/model/safetensors.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";
import { randomReference } from "./_reference.ts";

Deno.test("ProtoWriter encodes varints, negatives, floats and nested messages", () => {
  assertEquals(Array.from(new ProtoWriter().int(1, 300).finish()), [0x08, 0xac, 0x02]);
  const neg = new ProtoWriter().int(2, -1).finish();
  assertEquals(neg.length, 11); // tag + 10-byte two's complement
  assertEquals(neg[10], 0x01);
  assertEquals(Array.from(new ProtoWriter().float(2, 1).finish()), [0x15, 0, 0, 0x80, 0x3f]);
  const inner = new ProtoWriter().string(1, "ab");
  assertEquals(Array.from(new ProtoWriter().message(3, inner).finish()), [
    0x1a,
    4,
    0x0a,
    2,
    0x61,
    0x62,
  ]);
  assertEquals(Array.from(new ProtoWriter().packedInts(1, [1, 2]).finish()), [0x0a, 2, 1, 2]);
});

Deno.test("GraphBuilder keeps external weights out of the model bytes", () => {
  const g = new GraphBuilder("t");
  g.input("x", "float32", [4]);
  const w = g.initializer("w", new Float32Array(1000), [1000], { external: true });
  g.initializer("small", new Float32Array(4), [4]);
  g.output(g.op("Add", ["x", w]), "float32", [4]);
  const bytes = g.toModel();
  assertEquals(bytes.length < 1000, true);
  assertEquals(g.externals.get("w")?.location, "specdec_weight_0.bin");
});

Deno.test("buildLlamaGraph() emits specdec.TreeAttention in place of GroupQueryAttention for attention: tree", async () => {
  const dir = randomReference("llama").dir;
  const config = await readModelConfig(dir);
  const st = await SafeTensors.open(`${dir}/model.safetensors`);
  const text = (a: Uint8Array): string => new TextDecoder("latin1").decode(a);
  const gqa = text(buildLlamaGraph(config, st, { maxLength: 32 }).model);
  const tree = text(buildLlamaGraph(config, st, { maxLength: 32, attention: "tree" }).model);
  assertEquals(gqa.includes("GroupQueryAttention"), true);
  assertEquals(tree.includes("GroupQueryAttention"), false);
  assertEquals(tree.includes("TreeAttention") && tree.includes("specdec"), true);
});

// Runs only where the shim has the TreeAttention op built in (the GPU area adds it).
let treeOp = true;
try {
  (await CausalLM.load(randomReference("llama").dir, {
    maxLength: 8,
    threads: 1,
    attention: "tree",
  })).close();
} catch (e) {
  if (!(e instanceof SpecDecError)) throw e;
  treeOp = false;
}

Deno.test({
  name: "CausalLM with attention: tree equals the GroupQueryAttention graph on a tree forward",
  ignore: !treeOp,
  fn: async () => {
    const ref = randomReference("llama");
    using a = await CausalLM.load(ref.dir, { maxLength: 32, threads: 1 });
    using b = await CausalLM.load(ref.dir, { maxLength: 32, threads: 1, attention: "tree" });
    const prompt = ref.cases[0]!.promptIds;
    const P = prompt.length;
    const mask = new Uint8Array([1, 0, 0, 1, 1, 0, 1, 0, 1]); // node 0 with children 1 and 2
    for (const lm of [a, b]) await lm.prefill(prompt);
    const ra = await a.forward([5, 9, 11], [P, P + 1, P + 1], { treeMask: mask });
    const rb = await b.forward([5, 9, 11], [P, P + 1, P + 1], { treeMask: mask });
    const d = maxAbsDiff(ra.logits, rb.logits);
    if (!(d <= 1e-4)) throw new Error(`tree op differs by ${d}`);
  },
});

Deno.test({
  name: "CausalLM with attention: tree prefills more than 64 tokens (in op-sized chunks) like GQA",
  ignore: !treeOp,
  fn: async () => {
    const ref = randomReference("llama");
    using a = await CausalLM.load(ref.dir, { maxLength: 200, threads: 1 });
    using b = await CausalLM.load(ref.dir, { maxLength: 200, threads: 1, attention: "tree" });
    const ids = Array.from({ length: 150 }, (_, i) => (i * 7 + 3) % a.vocabSize);
    const ra = await a.prefill(ids, { hidden: true });
    const rb = await b.prefill(ids, { hidden: true });
    assertEquals(b.kvLength, 150);
    const d = Math.max(maxAbsDiff(ra.logits, rb.logits), maxAbsDiff(ra.hidden!, rb.hidden!));
    if (!(d <= 1e-3)) throw new Error(`chunked tree prefill differs by ${d}`);
    const ta = await a.forward([4], [150]);
    const tb = await b.forward([4], [150]);
    if (!(maxAbsDiff(ta.logits, tb.logits) <= 1e-3)) throw new Error("next token differs");
    const big = Array.from({ length: 65 }, () => 1);
    const mask = new Uint8Array(65 * 65); // a chain: each node sees itself and earlier ones
    for (let i = 0; i < 65; i++) mask.fill(1, i * 65, i * 65 + i + 1);
    await b.prefill([1]);
    let threw = false;
    try {
      await b.forward(big, big.map((_, i) => i + 1), { treeMask: mask });
    } catch (e) {
      threw = e instanceof RangeError && /65 nodes exceeds the 64/.test((e as Error).message);
    }
    if (!threw) throw new Error("a 65-node tree should be refused with a RangeError");
  },
});
