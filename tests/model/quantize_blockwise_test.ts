import assert from "node:assert/strict";
import {
  dequantizeBlockwise,
  quantizeBlockwise,
} from "../../lib/model/graph/quantize_blockwise.ts";
import { GraphBuilder } from "../../lib/model/onnx/graph_builder.ts";
import { projection, weightPlan } from "../../lib/model/graph/_layers.ts";
import { Environment } from "../../lib/runtime/environment.ts";
import { Session } from "../../lib/runtime/session.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { MedusaHeads } from "../../lib/model/medusa_heads.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";
import { values } from "./_values.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

// Asymmetric blocks round every value to the nearest step; symmetric blocks map the largest
// magnitude to code 0 and may clip the other side's extreme by up to one step.
Deno.test("quantizeBlockwise: every value within half a step (asymmetric) or a step (symmetric)", () => {
  for (const bits of [4, 8] as const) {
    for (const zeroPoints of [true, false]) {
      const n = 3, k = 80; // 80 = 2.5 blocks: the last block is padded
      const w = values(n * k, bits * 7 + (zeroPoints ? 1 : 0));
      const q = quantizeBlockwise(w, n, k, { bits, zeroPoints });
      assert.equal(q.kBlocks, 3);
      assert.equal(q.codes.length, n * 3 * (32 * bits) / 8);
      const back = dequantizeBlockwise(q);
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < k; c++) {
          const scale = Math.abs(q.scales[r * q.kBlocks + Math.floor(c / 32)]!);
          const err = Math.abs(back[r * k + c]! - w[r * k + c]!);
          const bound = zeroPoints ? scale / 2 : scale;
          assert.ok(err <= bound + 1e-6, `bits ${bits} zp ${zeroPoints} [${r},${c}]: ${err}`);
        }
      }
    }
  }
});

Deno.test("quantizeBlockwise: in_out layout equals the transposed out_in layout", () => {
  const n = 5, k = 64;
  const w = values(n * k, 3); // [n, k]
  const t = new Float32Array(n * k); // [k, n]
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) t[c * n + r] = w[r * k + c]!;
  const a = quantizeBlockwise(w, n, k, { bits: 4 });
  const b = quantizeBlockwise(t, n, k, { bits: 4, layout: "in_out" });
  assert.deepEqual(b.codes, a.codes);
  assert.deepEqual(b.scales, a.scales);
  assert.deepEqual(b.zeroPoints, a.zeroPoints);
});

Deno.test("quantizeBlockwise rejects bad sizes and block sizes", () => {
  assert.throws(() => quantizeBlockwise(new Float32Array(10), 2, 4, { bits: 4 }), RangeError);
  assert.throws(
    () => quantizeBlockwise(new Float32Array(64), 2, 32, { bits: 4, blockSize: 24 }),
    /blockSize must be a power of two/,
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => quantizeBlockwise(new Float32Array(64), 2, 32, { bits: 3 as any }),
    /bits must be 4 or 8/,
  );
});

// ONNX Runtime's MatMulNBits must read our codes, scales and zero points exactly as
// dequantizeBlockwise does: with f32 activations (accuracy level 0) the product equals
// x · deq(W)^T; with int8 activations (level 4) it is close.
Deno.test("MatMulNBits over our packing equals the dequantized product (4/8 bits, zero points or not, padded K)", async () => {
  using env = new Environment({ logLevel: 3 });
  const S = 3, n = 24;
  for (const k of [64, 80]) {
    for (const bits of [4, 8] as const) {
      for (const zeroPoints of [true, false]) {
        for (const level of [0, 4] as const) {
          const w = values(n * k, k + bits + level);
          const x = values(S * k, 99);
          const g = new GraphBuilder("q");
          g.input("x", "float32", [S, k]);
          const plan = {
            ...weightPlan({
              maxLength: 1,
              weights: bits === 4 ? "q4" : "q8",
              quantization: { zeroPoints, accuracyLevel: level },
            }),
            external: false,
          };
          const bias = g.initializer("b", values(n, 5), [n]);
          g.output(
            g.op("Identity", [projection(g, "x", "w", w, n, k, bias, plan)], {}, "", "y"),
            "float32",
            [S, n],
          );
          using session = await Session.fromBytes(env, g.toModel(), { intraOpThreads: 1 });
          const y = new Float32Array(S * n);
          await session.run({ x: { dtype: "float32", dims: [S, k], data: x } }, {
            y: { dtype: "float32", dims: [S, n], data: y },
          });
          const deq = dequantizeBlockwise(quantizeBlockwise(w, n, k, { bits, zeroPoints }));
          const b = values(n, 5);
          let worst = 0;
          for (let i = 0; i < S; i++) {
            for (let j = 0; j < n; j++) {
              let ref = b[j]!;
              for (let c = 0; c < k; c++) ref += x[i * k + c]! * deq[j * k + c]!;
              worst = Math.max(worst, Math.abs(ref - y[i * n + j]!));
            }
          }
          const tol = level === 0 ? 1e-4 : 0.05;
          assert.ok(worst < tol, `k ${k} bits ${bits} zp ${zeroPoints} level ${level}: ${worst}`);
        }
      }
    }
  }
});

Deno.test("CausalLM at q8 and q4 stays close to f32 and predicts the same tokens mostly", async () => {
  const dir = `${ROOT}models/tiny-target`;
  const ids = [5, 17, 99, 3, 250, 41, 7, 8, 9, 10, 11, 12];
  using f32 = await CausalLM.load(dir, { maxLength: 32, threads: 1 });
  const ref = (await f32.prefill(ids)).logits;
  const V = f32.vocabSize;
  const top = (l: Float32Array, row: number): number => {
    let best = 0;
    for (let i = 1; i < V; i++) if (l[row * V + i]! > l[row * V + best]!) best = i;
    return best;
  };
  for (const [weights, maxErr, minSame] of [["q8", 0.1, 11], ["q4", 0.6, 8]] as const) {
    using lm = await CausalLM.load(dir, { maxLength: 32, threads: 1, weights });
    const got = (await lm.prefill(ids)).logits;
    let worst = 0, same = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - ref[i]!));
    for (let r = 0; r < ids.length; r++) same += top(got, r) === top(ref, r) ? 1 : 0;
    assert.ok(worst < maxErr, `${weights}: max logit error ${worst}`);
    assert.ok(same >= minSame, `${weights}: ${same}/${ids.length} top-1 agree with f32`);
  }
});

Deno.test("weights options: unknown precisions are refused before any file is read", async () => {
  for (const weights of ["q3", "int4", "", 4]) {
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => CausalLM.load("/nonexistent", { weights: weights as any }),
      (e: Error) => e instanceof TypeError && /weights must be one of f32, q8, q4/.test(e.message),
    );
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => MedusaHeads.load("/nonexistent", { weights: weights as any }),
      TypeError,
    );
  }
});

Deno.test("a checkpoint with a non-finite weight cannot be quantized: SpecDecError naming the tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${ROOT}models/tiny-target/config.json`, `${dir}/config.json`);
    const bytes = await Deno.readFile(`${ROOT}models/tiny-target/model.safetensors`);
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    // down_proj (a projection of its own) and up_proj (fused with gate_proj in one op).
    for (
      const tensor of ["model.layers.1.mlp.down_proj.weight", "model.layers.0.mlp.up_proj.weight"]
    ) {
      const broken = bytes.slice();
      const t = header[tensor];
      const at = 8 + headerLen + t.data_offsets[0] + 2 * 5; // the 6th value
      if (t.dtype === "F16") {
        broken[at] = 0x00;
        broken[at + 1] = 0x7e; // f16 NaN
      } else throw new Error(`fixture dtype ${t.dtype}`);
      await Deno.writeFile(`${dir}/model.safetensors`, broken);
      const named = new RegExp(
        `Cannot quantize "${tensor.replaceAll(".", "\\.")}" .* to q4: value NaN at row 0, column 5`,
      );
      // In memory, and through the prepared-model cache (converted in a worker).
      for (const cache of [false, `${dir}/cache-${tensor}`]) {
        await assert.rejects(
          () => CausalLM.load(dir, { weights: "q4", maxLength: 8, cache }),
          (e: Error) => e instanceof SpecDecError && named.test(e.message),
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("q8/q4 one-token forwards are batch invariant: bit-identical to a row of a longer forward", async () => {
  const dir = `${ROOT}models/tiny-target`;
  const prompt = [5, 17, 99, 3, 250, 41];
  const next = [7, 8, 9];
  for (const weights of ["q8", "q4"] as const) {
    using lm = await CausalLM.load(dir, { maxLength: 16, threads: 1, weights });
    assert.equal(lm.batchInvariant, true);
    await lm.prefill(prompt);
    const one: Float32Array[] = [];
    for (let i = 0; i < next.length; i++) {
      one.push((await lm.forward([next[i]!], [prompt.length + i])).logits.slice());
    }
    lm.rewind(prompt.length);
    const all = (await lm.forward(next, next.map((_, i) => prompt.length + i))).logits;
    const V = lm.vocabSize;
    for (let i = 0; i < next.length; i++) {
      assert.deepEqual(one[i], all.slice(i * V, (i + 1) * V), `${weights} row ${i}`);
    }
    // The spare slot lets the last token of the context run padded too.
    lm.rewind(0);
    await lm.prefill(Array.from({ length: 15 }, (_, i) => i + 3));
    const last = await lm.forward([4], [15]);
    assert.equal(last.logits.length, V);
    assert.equal(lm.kvLength, 16);
  }
  using f32 = await CausalLM.load(dir, { maxLength: 16, threads: 1 });
  assert.equal(f32.batchInvariant, false);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => CausalLM.load(dir, { batchInvariant: "yes" as any }),
    /batchInvariant must be a boolean/,
  );
});
