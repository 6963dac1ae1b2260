import assert from "node:assert/strict";
import { argmax } from "../../lib/sampling/argmax.ts";
import { LogitsProcessor } from "../../lib/sampling/logits_processor.ts";
import { Prng } from "../../lib/sampling/prng.ts";

Deno.test("argmax() breaks ties to the lowest index", () => {
  assert.equal(argmax(new Float32Array([1, 5, 5, 2])), 1);
  assert.equal(argmax(new Float32Array([-Infinity, -3])), 1);
});

Deno.test("LogitsProcessor at temperature 0 is one-hot on the argmax", () => {
  const p = new LogitsProcessor({ temperature: 0 }).probs(new Float32Array([0, 2, 2, 1]));
  assert.deepEqual(Array.from(p), [0, 1, 0, 0]);
});

Deno.test("LogitsProcessor applies temperature, top-k and top-p", () => {
  const logits = new Float32Array([Math.log(0.1), Math.log(0.2), Math.log(0.3), Math.log(0.4)]);
  const plain = new LogitsProcessor({ temperature: 1 }).probs(logits);
  [0.1, 0.2, 0.3, 0.4].forEach((x, i) => assert.ok(Math.abs(plain[i]! - x) < 1e-6));
  const hot = new LogitsProcessor({ temperature: 2 }).probs(logits);
  assert.ok(hot[0]! > 0.1 && hot[3]! < 0.4);
  const k2 = new LogitsProcessor({ temperature: 1, topK: 2 }).probs(logits);
  assert.equal(k2[0], 0);
  assert.equal(k2[1], 0);
  assert.ok(Math.abs(k2[3]! - 0.4 / 0.7) < 1e-6);
  // top-p 0.6: 0.4 + 0.3 >= 0.6, keep {3, 2}
  const p6 = new LogitsProcessor({ temperature: 1, topP: 0.6 }).probs(logits);
  assert.equal(p6[1], 0);
  assert.ok(Math.abs(p6[2]! - 0.3 / 0.7) < 1e-6);
  // top-p 0.3: the top token alone reaches it
  const p3 = new LogitsProcessor({ temperature: 1, topP: 0.3 }).probs(logits);
  assert.deepEqual(Array.from(p3), [0, 0, 0, 1]);
});

Deno.test("LogitsProcessor rejects bad parameters, naming them", () => {
  assert.throws(() => new LogitsProcessor({ temperature: -0.1 }), /temperature/);
  assert.throws(() => new LogitsProcessor({ temperature: NaN }), RangeError);
  assert.throws(() => new LogitsProcessor({ topP: 0 }), /topP/);
  assert.throws(() => new LogitsProcessor({ topP: 1.5 }), RangeError);
  assert.throws(() => new LogitsProcessor({ topK: -1 }), /topK/);
  assert.throws(() => new LogitsProcessor({ topK: 1.5 }), TypeError);
});

/** Straightforward full-sort reference of temperature + top-k + top-p. */
function reference(logits: Float32Array, t: number, k: number, p: number): Float64Array {
  const n = logits.length;
  let m = -Infinity;
  for (const x of logits) m = Math.max(m, x);
  const pr = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) s += pr[i] = Math.exp((logits[i]! - m) / t);
  for (let i = 0; i < n; i++) pr[i] = pr[i]! / s;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => pr[b]! - pr[a]! || a - b);
  let keep = k > 0 ? Math.min(k, n) : n;
  if (p < 1) {
    let kept = 0, acc = 0;
    for (let r = 0; r < keep; r++) kept += pr[order[r]!]!;
    for (let r = 0; r < keep; r++) {
      acc += pr[order[r]!]! / kept;
      if (acc >= p) {
        keep = r + 1;
        break;
      }
    }
  }
  const out = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < keep; r++) sum += pr[order[r]!]!;
  for (let r = 0; r < keep; r++) out[order[r]!] = pr[order[r]!]! / sum;
  return out;
}

Deno.test("LogitsProcessor matches a full-sort reference (ties, large vocabularies)", () => {
  const g = new Prng(5);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + (g.nextUint32() % (trial % 3 === 0 ? 2000 : 50));
    const logits = Float32Array.from({ length: n }, () => Math.round(g.nextFloat() * 6) / 2);
    const t = 0.5 + g.nextFloat();
    const k = trial % 5 === 0 ? 0 : g.nextUint32() % (n + 2);
    const p = g.nextFloat() < 0.5 ? 1 : 0.05 + 0.95 * g.nextFloat();
    const got = new LogitsProcessor({ temperature: t, topK: k, topP: p }).probs(logits);
    const want = reference(logits, t, k, p);
    for (let i = 0; i < n; i++) {
      assert.ok(
        Math.abs(got[i]! - want[i]!) < 1e-12,
        `trial ${trial}: n ${n} k ${k} p ${p} i ${i}`,
      );
    }
  }
});
