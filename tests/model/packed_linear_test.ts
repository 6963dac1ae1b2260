import assert from "node:assert/strict";
import { GraphBuilder } from "../../lib/model/onnx/graph_builder.ts";
import { gatedMlp, projection, weightPlan } from "../../lib/model/graph/_layers.ts";
import {
  interleavePanels,
  packPanels,
  packQuantizedPanels,
} from "../../lib/model/graph/pack_panels.ts";
import { quantizeBlockwise } from "../../lib/model/graph/quantize_blockwise.ts";
import { Environment } from "../../lib/runtime/environment.ts";
import { Session } from "../../lib/runtime/session.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { readModelConfig } from "../../lib/model/config.ts";
import { keysOf } from "../../lib/model/prepared_cache.ts";
import { argmax } from "../../lib/sampling/argmax.ts";
import { cpuKernelLevel } from "../../lib/runtime/library.ts";
import { values } from "./_values.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Runs a one-input graph, `x` `[S, k]` to `y` `[S, n]`, whose body `emit` adds (returning the
 * output's name), on 2 intra-op threads with specdec's custom ops.
 */
async function runGraph(
  env: Environment,
  k: number,
  n: number,
  x: Float32Array,
  emit: (g: GraphBuilder) => string,
): Promise<Float32Array> {
  const S = x.length / k;
  const g = new GraphBuilder("one-op");
  g.input("x", "float32", ["S", k]);
  g.output(g.op("Identity", [emit(g)], {}, "", "y"), "float32", ["S", n]);
  using session = await Session.fromBytes(
    env,
    g.toModel({ "": 21, "com.microsoft": 1, specdec: 1 }),
    { intraOpThreads: 2, customOps: true },
  );
  const y = new Float32Array(S * n);
  await session.run({ x: { dtype: "float32", dims: [S, k], data: x } }, {
    y: { dtype: "float32", dims: [S, n], data: y },
  });
  return y;
}

/**
 * Asserts that specdec's kernel (`run("packed", x)`) matches ONNX Runtime's (`run("gemm", x)`)
 * within `tol` (relative) on `x` `[S, k]`, and is row invariant: row 0 alone gives the same
 * bits as among the S rows.
 */
async function assertMatchesAndRowInvariant(
  run: (linear: "packed" | "gemm", x: Float32Array) => Promise<Float32Array>,
  x: Float32Array,
  k: number,
  n: number,
  tol: number,
  label: string,
): Promise<void> {
  const packed = await run("packed", x);
  const other = await run("gemm", x);
  let worst = 0;
  for (let i = 0; i < packed.length; i++) {
    worst = Math.max(worst, Math.abs(packed[i]! - other[i]!) / (1 + Math.abs(other[i]!)));
  }
  assert.ok(worst < tol, `${label} S ${x.length / k}: relative difference ${worst}`);
  const one = await run("packed", x.subarray(0, k));
  assert.deepEqual(one, packed.subarray(0, n), `${label} S ${x.length / k}: row 0 alone`);
}

Deno.test("packPanels: 32-column panels, zero padded, the same from either layout", () => {
  const n = 40, k = 3;
  const w = Float32Array.from({ length: n * k }, (_, i) => i + 1); // [n, k]: W[c][j] = c * k + j + 1
  const p = packPanels(w, n, k);
  assert.equal(p.length, 2 * k * 32);
  assert.equal(p[0], 1); // panel 0, j 0, column 0 = W[0][0]
  assert.equal(p[1], k + 1); // column 1 = W[1][0]
  assert.equal(p[32], 2); // j 1, column 0 = W[0][1]
  assert.equal(p[k * 32], 32 * k + 1); // panel 1, j 0, column 32 = W[32][0]
  assert.equal(p[k * 32 + 8], 0); // column 40: padding
  const t = new Float32Array(n * k); // [k, n]
  for (let c = 0; c < n; c++) for (let j = 0; j < k; j++) t[j * n + c] = w[c * k + j]!;
  assert.deepEqual(packPanels(t, n, k, "in_out"), p);
  assert.throws(() => packPanels(w, n, k + 1), /expected 40 x 4 = 160 values, got 120/);
});

Deno.test("PackedLinear equals Gemm over the same weights (rows 1-20, widths off the panel size, bias)", async () => {
  using env = new Environment({ logLevel: 3 });
  for (const [n, k] of [[24, 64], [70, 33], [96, 130]] as const) {
    const w = values(n * k, n + k);
    const b = values(n, 5);
    const run = (linear: "packed" | "gemm", x: Float32Array) =>
      runGraph(env, k, n, x, (g) => {
        const plan = { ...weightPlan({ maxLength: 1, linear }), external: false };
        return projection(g, "x", "w", w, n, k, g.initializer("b", b, [n]), plan);
      });
    for (const S of [1, 3, 8, 9, 20]) {
      await assertMatchesAndRowInvariant(run, values(S * k, 99 + S), k, n, 1e-5, `n ${n} k ${k}`);
    }
  }
});

Deno.test("f32 CausalLM runs PackedLinear by default, close to Gemm, and with TreeAttention batch invariant without padding", async () => {
  const dir = `${ROOT}models/tiny-target`;
  const prompt = [5, 17, 99, 3, 250, 41];
  const next = [7, 8, 9, 10];
  using packed = await CausalLM.load(dir, { maxLength: 16, threads: 2, cache: false });
  {
    // Without the AVX-512 variant, models default to ONNX Runtime's kernels.
    Deno.env.set("SPECDEC_CPU_LEVEL", "3");
    try {
      assert.ok(cpuKernelLevel() <= 3);
      using avx2 = await CausalLM.load(dir, { maxLength: 16, threads: 1, cache: false });
      assert.equal(avx2.linear, "gemm");
    } finally {
      Deno.env.delete("SPECDEC_CPU_LEVEL");
      cpuKernelLevel(); // read again: the kernels dispatch on the cached level
    }
  }
  using gemm = await CausalLM.load(dir, {
    maxLength: 16,
    threads: 2,
    linear: "gemm",
    cache: false,
  });
  // The default: packed where the kernels' AVX-512 variant runs (cpuKernelLevel() 4).
  assert.equal(packed.linear, cpuKernelLevel() >= 4 ? "packed" : "gemm");
  assert.equal(gemm.linear, "gemm");
  const a = (await packed.prefill(prompt)).logits, b = (await gemm.prefill(prompt)).logits;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  assert.ok(worst < 1e-4, `packed vs gemm logits differ by ${worst}`);

  // Every part of the forward is then row-independent: a token's logits are the same bits
  // whether it runs alone or as a row of a longer forward (a chain, or a tree's node).
  using tree = await CausalLM.load(dir, {
    maxLength: 16,
    threads: 2,
    attention: "tree",
    cache: false,
  });
  assert.equal(tree.batchInvariant, false);
  await tree.prefill(prompt);
  const one: Float32Array[] = [];
  for (let i = 0; i < next.length; i++) {
    one.push((await tree.forward([next[i]!], [prompt.length + i])).logits.slice());
  }
  tree.rewind(prompt.length);
  const all = (await tree.forward(next, next.map((_, i) => prompt.length + i))).logits;
  const V = tree.vocabSize;
  for (let i = 0; i < next.length; i++) {
    assert.deepEqual(one[i], all.slice(i * V, (i + 1) * V), `row ${i}`);
  }
});

Deno.test("CausalLM.load refuses an unknown linear kernel before reading the checkpoint", async () => {
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => CausalLM.load(`${ROOT}models/tiny-target`, { linear: "int8" as any }),
    (e: Error) =>
      e instanceof TypeError && /linear must be "packed" or "gemm", got "int8"/.test(e.message),
  );
});

Deno.test("CausalLM activations: int8 at q8/q4 near f32 activations, one weight file for both, bad values refused", async () => {
  const dir = `${ROOT}models/bench-draft`;
  await assert.rejects(
    () => CausalLM.load(dir, { activations: "int8" }),
    (e: Error) =>
      e instanceof TypeError && /activations "int8" needs weights "q8" or "q4"/.test(e.message),
  );
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => CausalLM.load(dir, { weights: "q4", activations: "bf16" as any }),
    (e: Error) =>
      e instanceof TypeError && /activations must be "f32" or "int8", got "bf16"/.test(e.message),
  );
  const config = await readModelConfig(dir);
  const build = { maxLength: 64, weights: "q4" as const, linear: "packed" as const };
  const f32Keys = keysOf(config, build);
  const int8Keys = keysOf(config, { ...build, activations: "int8" });
  assert.deepEqual(int8Keys.weightsKey, f32Keys.weightsKey);
  assert.notDeepEqual(int8Keys.graphKey, f32Keys.graphKey);
  assert.deepEqual(keysOf(config, { ...build, activations: "f32" }), f32Keys);
  for (const weights of ["q8", "q4"] as const) {
    const options = { maxLength: 64, threads: 1, weights, linear: "packed" as const };
    using plain = await CausalLM.load(dir, options);
    using fast = await CausalLM.load(dir, { ...options, activations: "int8" });
    const ids = [5, 17, 301, 12, 9, 88, 1024, 7];
    const a = (await plain.prefill(ids)).logits;
    const b = (await fast.prefill(ids)).logits;
    const V = plain.vocabSize;
    let same = 0;
    for (let r = 0; r < ids.length; r++) {
      const ra = a.subarray(r * V, (r + 1) * V), rb = b.subarray(r * V, (r + 1) * V);
      let d = 0, m = 0;
      for (let i = 0; i < V; i++) {
        d = Math.max(d, Math.abs(ra[i]! - rb[i]!));
        m = Math.max(m, Math.abs(ra[i]!));
      }
      assert.ok(d < 0.05 * m, `${weights} row ${r}: logits differ by ${d} (max |logit| ${m})`);
      if (argmax(ra) === argmax(rb)) same++;
    }
    assert.ok(same >= ids.length - 1, `${weights}: ${same} of ${ids.length} argmaxes agree`);
  }
});

Deno.test("PackedLinearQ equals MatMulNBits with f32 activations on the same codes (q8, q4; rows 1-9)", async () => {
  using env = new Environment({ logLevel: 3 });
  for (const weights of ["q8", "q4"] as const) {
    for (const [n, k] of [[40, 64], [70, 96], [33, 50]] as const) {
      const w = values(n * k, n * k + 1);
      const b = values(n, 7);
      const run = (linear: "packed" | "gemm", x: Float32Array) =>
        runGraph(env, k, n, x, (g) => {
          // accuracy level 0: MatMulNBits with f32 activations, the numerics PackedLinearQ keeps
          const plan = {
            ...weightPlan({ maxLength: 1, weights, linear, quantization: { accuracyLevel: 0 } }),
            external: false,
          };
          return projection(g, "x", "w", w, n, k, g.initializer("b", b, [n]), plan);
        });
      for (const S of [1, 2, 5, 9]) {
        const x = values(S * k, 31 + S);
        await assertMatchesAndRowInvariant(run, x, k, n, 1e-4, `${weights} n ${n} k ${k}`);
      }
    }
  }
});

Deno.test("PackedLinearQ with int8 activations equals MatMulNBits's (accuracy level 4) within 1e-5 and is row invariant (q8, q4; rows 1-9; glu)", async () => {
  using env = new Environment({ logLevel: 3 });
  for (const weights of ["q8", "q4"] as const) {
    for (const [n, k] of [[40, 64], [70, 96], [33, 50]] as const) {
      const w = values(n * k, n * k + 1);
      const b = values(2 * n, 7);
      const plan = (linear: "packed" | "gemm") => ({
        ...weightPlan({
          maxLength: 1,
          weights,
          linear,
          activations: "int8",
          quantization: { accuracyLevel: 4 },
        }),
        external: false,
      });
      const run = (linear: "packed" | "gemm", x: Float32Array) =>
        runGraph(env, k, n, x, (g) => projection(g, "x", "w", w, n, k, undefined, plan(linear)));
      const runGlu = (linear: "packed" | "gemm", x: Float32Array) =>
        runGraph(env, k, n, x, (g) => {
          const named = (name: string, data: Float32Array) => ({ name, data });
          const bias = g.initializer("b", b, [2 * n]);
          const up = named("up", values(n * k, 5));
          return gatedMlp(g, "x", "gu", named("gate", w), up, n, k, bias, plan(linear));
        });
      for (const S of [1, 2, 5, 9]) {
        const x = values(S * k, 31 + S);
        await assertMatchesAndRowInvariant(run, x, k, n, 1e-5, `${weights} n ${n} k ${k}`);
        await assertMatchesAndRowInvariant(runGlu, x, k, n, 1e-5, `glu ${weights} n ${n} k ${k}`);
      }
    }
  }
  // The attribute is on the op only with int8 activations.
  const g = new GraphBuilder("attr");
  g.input("x", "float32", ["S", 64]);
  for (const activations of ["f32", "int8"] as const) {
    const plan = weightPlan({ maxLength: 1, weights: "q4", linear: "packed", activations });
    projection(g, "x", `w_${activations}`, values(32 * 64, 1), 32, 64, undefined, plan);
  }
  const text = new TextDecoder("latin1").decode(g.toModel({ "": 21, specdec: 1 }));
  assert.equal(text.split("act_bits").length - 1, 1);
});

Deno.test("packQuantizedPanels refuses zero points and other block sizes", () => {
  const w = values(32 * 64, 3);
  assert.throws(
    () => packQuantizedPanels(quantizeBlockwise(w, 32, 64, { bits: 4, zeroPoints: true })),
    /symmetric blocks of 32 needed, got block 32 with zero points/,
  );
  assert.throws(
    () =>
      packQuantizedPanels(
        quantizeBlockwise(w, 32, 64, { bits: 8, blockSize: 64, zeroPoints: false }),
      ),
    /symmetric blocks of 32 needed, got block 64/,
  );
});

Deno.test("gatedMlp: the fused glu op equals Split + silu + Mul over Gemm / MatMulNBits (f32, q8, q4; rows 1-20; bias)", async () => {
  using env = new Environment({ logLevel: 3 });
  for (const weights of ["f32", "q8", "q4"] as const) {
    for (const [n, k] of [[40, 64], [70, 33], [96, 130]] as const) {
      const gate = values(n * k, n + k + 3);
      const up = values(n * k, n + k + 4);
      const b = values(2 * n, 11);
      const run = (linear: "packed" | "gemm", x: Float32Array) =>
        runGraph(env, k, n, x, (g) => {
          const plan = {
            ...weightPlan({ maxLength: 1, weights, linear, quantization: { accuracyLevel: 0 } }),
            external: false,
          };
          const bias = g.initializer("b", b, [2 * n]);
          const named = (name: string, data: Float32Array) => ({ name, data });
          return gatedMlp(g, "x", "gu", named("gate", gate), named("up", up), n, k, bias, plan);
        });
      for (const S of [1, 2, 5, 9, 20]) {
        const x = values(S * k, 57 + S);
        await assertMatchesAndRowInvariant(run, x, k, n, 1e-4, `${weights} n ${n} k ${k}`);
      }
    }
  }
});

Deno.test("interleavePanels alternates the panels of two weights and refuses unequal ones", () => {
  const a = new Float32Array([1, 2, 3, 4]), b = new Float32Array([5, 6, 7, 8]);
  assert.deepEqual(Array.from(interleavePanels(a, b, 2)), [1, 2, 5, 6, 3, 4, 7, 8]);
  assert.ok(interleavePanels(new Uint8Array(2), new Uint8Array(2), 1) instanceof Uint8Array);
  assert.throws(() => interleavePanels(a, new Float32Array(2), 2), /two weights of 2 equal panels/);
  assert.throws(() => interleavePanels(a, b, 3), /two weights of 3 equal panels/);
});
