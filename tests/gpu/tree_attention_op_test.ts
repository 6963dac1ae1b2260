/**
 * Tests of the `specdec.TreeAttention` custom op inside ONNX Runtime graphs.
 *
 * - Its CPU implementation (native/src/tree_attention_ref.c) against `GroupQueryAttention` on the
 *   tiny random checkpoints: the same graph built with `attention: "tree"` and `"gqa"` gives the
 *   same logits (1e-4) for a prefill, a chain, a tree and after keep().
 * - One-node graphs: separate query/key/value, a u8 tree mask or an additive attention_bias,
 *   fp32 and fp16, against GroupQueryAttention; bad inputs and unsupported attributes fail with
 *   messages naming them.
 * - The CUDA implementation against the CPU one: needs a GPU, a CUDA build of the shim and the
 *   CUDA execution provider (`deno task setup:gpu`); skipped with a message elsewhere.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { GraphBuilder } from "../../lib/model/onnx/graph_builder.ts";
import { Environment } from "../../lib/runtime/environment.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";
import { cudaAvailable } from "../../lib/runtime/library.ts";
import { Session } from "../../lib/runtime/session.ts";
import { type Tensor, tensor } from "../../lib/runtime/tensor.ts";

const RANDOM = new URL("../fixtures/random/", import.meta.url).pathname;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "lengths differ");
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  const d = maxAbsDiff(a, b);
  if (!(d <= tol)) throw new Error(`${what}: max |diff| ${d} > ${tol}`);
}

/** Ancestor mask `[S, S]` u8 and depth (1-based) of a tree given by parents (parents first). */
function treeMask(parents: number[]): { mask: Uint8Array; depth: number[] } {
  const S = parents.length;
  const mask = new Uint8Array(S * S); // [S, S] u8
  const depth: number[] = [];
  for (let i = 0; i < S; i++) {
    let d = 0;
    for (let j = i; j !== -1; j = parents[j]!) {
      mask[i * S + j] = 1;
      d++;
    }
    depth.push(d);
  }
  return { mask, depth };
}

/** Two roots, branches of depth 3. */
const TREE = { tokens: [5, 9, 11, 13, 21, 30, 7], parents: [-1, 0, 0, 1, -1, 4, 3] };

for (const name of ["llama", "gpt2", "qwen2", "mistral", "llama-hd8"]) {
  Deno.test(`TreeAttention (CPU) equals GroupQueryAttention in the ${name} graph: prefill, chain, tree, keep`, async () => {
    const dir = `${RANDOM}${name}`;
    const reference = JSON.parse(Deno.readTextFileSync(`${dir}/reference.json`));
    const prompt: number[] = reference.prompt_ids;
    const P = prompt.length;
    using gqa = await CausalLM.load(dir, { maxLength: 64, threads: 1, attention: "gqa" });
    using tree = await CausalLM.load(dir, { maxLength: 64, threads: 1, attention: "tree" });
    const steps: [string, (lm: CausalLM) => Promise<Float32Array>][] = [
      ["prefill", async (lm) => (await lm.prefill(prompt)).logits],
      ["chain of 3", async (lm) => (await lm.forward([3, 1, 4], [P, P + 1, P + 2])).logits],
      ["tree of 7", async (lm) => {
        lm.rewind(P);
        const { mask, depth } = treeMask(TREE.parents);
        return (await lm.forward(TREE.tokens, depth.map((d) => P + d - 1), { treeMask: mask }))
          .logits;
      }],
      ["forward after keep()", async (lm) => {
        lm.keep([P + 0, P + 1, P + 3, P + 6]); // the path 0 -> 1 -> 3 -> 6
        return (await lm.forward([42], [P + 4])).logits;
      }],
    ];
    for (const [what, step] of steps) {
      const a = await step(gqa);
      const b = await step(tree);
      assertClose(b, a, 1e-4, `${name}, ${what}`);
      assert.equal(tree.kvLength, gqa.kvLength);
    }
  });
}

/** A one-node attention graph: GroupQueryAttention or TreeAttention with separate q, k, v. */
function attentionGraph(
  op: "gqa" | "tree",
  dtype: "float32" | "float16",
  maskType: "bias" | "uint8",
  attrs: Record<string, number> = {},
): Uint8Array {
  const g = new GraphBuilder(`${op}_${dtype}`);
  const inputs = [
    g.input("query", dtype, [1, "S", H * D]),
    g.input("key", dtype, [1, "S", KV * D]),
    g.input("value", dtype, [1, "S", KV * D]),
    g.input("past_key", dtype, [1, KV, L, D]),
    g.input("past_value", dtype, [1, KV, L, D]),
    g.input("seqlens_k", "int32", [1]),
    g.input("total_sequence_length", "int32", [1]),
    g.input("cos_cache", dtype, [MAX_POS, D / 2]),
    g.input("sin_cache", dtype, [MAX_POS, D / 2]),
    g.input("position_ids", "int64", [1, "S"]),
    maskType === "bias"
      ? g.input("attention_bias", dtype, [1, 1, "S", "T"])
      : g.input("tree_mask", "uint8", ["S", "S"]),
  ];
  const outputs = ["output", "present_key", "present_value"];
  g.node(
    op === "gqa" ? "GroupQueryAttention" : "TreeAttention",
    inputs,
    outputs,
    { num_heads: H, kv_num_heads: KV, do_rotary: 1, ...attrs },
    op === "gqa" ? "com.microsoft" : "specdec",
  );
  g.output("output", dtype, [1, "S", H * D]);
  g.output("present_key", dtype, [1, KV, L, D]);
  g.output("present_value", dtype, [1, KV, L, D]);
  return g.toModel({ "": 21, "com.microsoft": 1, specdec: 1 });
}

const H = 4, KV = 2, D = 16, L = 24, MAX_POS = 32, S = 6, P = 9;

/** Seeded uniform values in [-1, 1). */
function randoms(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >>> 17, x ^= x << 5, x >>>= 0;
    out[i] = (x / 4294967296) * 2 - 1;
  }
  return out;
}

/** float32 -> IEEE half bits (round to nearest even), via the platform's Float16Array when present. */
function toHalf(a: Float32Array): Uint16Array {
  const out = new Uint16Array(a.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < a.length; i++) {
    f[0] = a[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const e = ((x >>> 23) & 0xff) - 127 + 15;
    const m = x & 0x7fffff;
    let h: number;
    if (e <= 0) h = sign; // the test data stay far from the subnormal range
    else if (e >= 31) h = sign | 0x7c00;
    else {
      h = sign | (e << 10) | (m >>> 13);
      const rest = m & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
    }
    out[i] = h;
  }
  return out;
}

function fromHalf(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const s = h[i]! & 0x8000 ? -1 : 1, e = (h[i]! >>> 10) & 0x1f, m = h[i]! & 0x3ff;
    out[i] = e === 0
      ? s * m * 2 ** -24
      : e === 31
      ? (m ? NaN : s * Infinity)
      : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

interface Case {
  feeds: Record<string, Tensor>;
  outs: () => Record<string, Tensor>;
}

/** Inputs of one call: P cached tokens, S new ones in a tree; values rounded to fp16. */
function makeCase(dtype: "float32" | "float16", maskType: "bias" | "uint8"): Case {
  const parents = [-1, 0, 0, 1, 2, 4];
  const { mask, depth } = treeMask(parents);
  const T = P + S;
  const round = (a: Float32Array): Float32Array => fromHalf(toHalf(a)); // same values in both types
  const f = (a: Float32Array, dims: number[]): Tensor =>
    dtype === "float16" ? tensor("float16", dims, toHalf(a)) : tensor("float32", dims, a);
  const cos = new Float32Array(MAX_POS * D / 2), sin = new Float32Array(MAX_POS * D / 2);
  for (let p = 0; p < MAX_POS; p++) {
    for (let d = 0; d < D / 2; d++) {
      const angle = p * 10000 ** (-2 * d / D);
      cos[p * D / 2 + d] = Math.cos(angle);
      sin[p * D / 2 + d] = Math.sin(angle);
    }
  }
  const bias = new Float32Array(S * T); // [1, 1, S, T]
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) if (!mask[i * S + j]) bias[i * T + P + j] = -60000;
  }
  const feeds: Record<string, Tensor> = {
    query: f(round(randoms(S * H * D, 1)), [1, S, H * D]),
    key: f(round(randoms(S * KV * D, 2)), [1, S, KV * D]),
    value: f(round(randoms(S * KV * D, 3)), [1, S, KV * D]),
    past_key: f(round(randoms(KV * L * D, 4)), [1, KV, L, D]),
    past_value: f(round(randoms(KV * L * D, 5)), [1, KV, L, D]),
    seqlens_k: tensor("int32", [1], new Int32Array([T - 1])),
    total_sequence_length: tensor("int32", [1], new Int32Array([T])),
    cos_cache: f(round(cos), [MAX_POS, D / 2]),
    sin_cache: f(round(sin), [MAX_POS, D / 2]),
    position_ids: tensor("int64", [1, S], BigInt64Array.from(depth, (d) => BigInt(P + d - 1))),
  };
  if (maskType === "bias") feeds.attention_bias = f(bias, [1, 1, S, T]);
  else feeds.tree_mask = tensor("uint8", [S, S], mask);
  const outs = (): Record<string, Tensor> => ({
    output: tensor(dtype, [1, S, H * D]),
    present_key: tensor(dtype, [1, KV, L, D]),
    present_value: tensor(dtype, [1, KV, L, D]),
  });
  return { feeds, outs };
}

function values(t: Tensor): Float32Array {
  return t.dtype === "float16" ? fromHalf(t.data as Uint16Array) : (t.data as Float32Array);
}

async function runGraph(
  env: Environment,
  model: Uint8Array,
  c: Case,
  options: { cudaDevice?: number } = {},
): Promise<Record<string, Float32Array>> {
  using session = await Session.fromBytes(env, model, {
    intraOpThreads: 1,
    treeAttention: true,
    ...options,
  });
  const outs = c.outs();
  await session.run(c.feeds, outs);
  return Object.fromEntries(Object.entries(outs).map(([k, t]) => [k, values(t)]));
}

/** Slots [0, P + S) of every KV row of a present buffer `[1, KV, L, D]`. */
function written(a: Float32Array): Float32Array {
  const out = new Float32Array(KV * (P + S) * D);
  for (let g = 0; g < KV; g++) out.set(a.subarray(g * L * D, (g * L + P + S) * D), g * (P + S) * D);
  return out;
}

Deno.test("TreeAttention (CPU) equals GroupQueryAttention in one-node graphs: fp32, bias and u8 mask", async () => {
  using env = new Environment();
  const want = await runGraph(
    env,
    attentionGraph("gqa", "float32", "bias"),
    makeCase("float32", "bias"),
  );
  for (const maskType of ["bias", "uint8"] as const) {
    const got = await runGraph(
      env,
      attentionGraph("tree", "float32", maskType),
      makeCase("float32", maskType),
    );
    assertClose(got.output!, want.output!, 1e-5, `output (${maskType})`);
    assertClose(written(got.present_key!), written(want.present_key!), 1e-6, "present_key");
    assertClose(written(got.present_value!), written(want.present_value!), 0, "present_value");
  }
});

Deno.test("TreeAttention (CPU) fp16 equals fp32 GroupQueryAttention on fp16-representable inputs", async () => {
  using env = new Environment();
  const want = await runGraph(
    env,
    attentionGraph("gqa", "float32", "bias"),
    makeCase("float32", "bias"),
  );
  const got = await runGraph(
    env,
    attentionGraph("tree", "float16", "uint8"),
    makeCase("float16", "uint8"),
  );
  assertClose(got.output!, want.output!, 2e-3, "fp16 output");
  assertClose(written(got.present_value!), written(want.present_value!), 0, "fp16 present_value");
});

Deno.test("TreeAttention rejects a soft attention_bias and unsupported attributes, naming them", async () => {
  using env = new Environment();
  const c = makeCase("float32", "bias");
  (c.feeds.attention_bias!.data as Float32Array)[2 * (P + S) + P + 3] = -0.5; // not a mask value
  await assert.rejects(
    () => runGraph(env, attentionGraph("tree", "float32", "bias"), c),
    (e: unknown) =>
      e instanceof SpecDecError && e.message.includes("attention_bias[0, 0, 2, 12]") &&
      e.message.includes("-0.5"),
  );
  await assert.rejects(
    () =>
      runGraph(
        env,
        attentionGraph("tree", "float32", "bias", { rotary_interleaved: 1 }),
        makeCase("float32", "bias"),
      ),
    (e: unknown) => e instanceof SpecDecError && e.message.includes("rotary_interleaved"),
  );
  const short = makeCase("float32", "bias");
  short.feeds.seqlens_k = tensor("int32", [1], new Int32Array([2])); // fewer than S - 1
  await assert.rejects(
    () => runGraph(env, attentionGraph("tree", "float32", "bias"), short),
    (e: unknown) => e instanceof SpecDecError && e.message.includes("seqlens_k[0]"),
  );
});

const gpu = cudaAvailable();
if (!gpu) {
  console.log(
    "tests/gpu: no CUDA device, CUDA build or CUDA execution provider here; the CUDA TreeAttention " +
      "test is skipped (scripts/gpu_check.sh checks the kernels on a GPU machine)",
  );
}

Deno.test({
  name: "TreeAttention (CUDA) equals its CPU implementation, fp32 and fp16 (needs a GPU)",
  ignore: !gpu,
  fn: async () => {
    using env = new Environment();
    for (const dtype of ["float32", "float16"] as const) {
      const model = attentionGraph("tree", dtype, "bias");
      const cpu = await runGraph(env, model, makeCase(dtype, "bias"));
      const cuda = await runGraph(env, model, makeCase(dtype, "bias"), { cudaDevice: 0 });
      const tol = dtype === "float16" ? 2e-3 : 1e-5;
      assertClose(cuda.output!, cpu.output!, tol, `${dtype} output`);
      assertClose(
        written(cuda.present_key!),
        written(cpu.present_key!),
        tol,
        `${dtype} present_key`,
      );
    }
  },
});
