import assert from "node:assert/strict";
import { argmax } from "../../lib/sampling/argmax.ts";
import { LogitsProcessor } from "../../lib/sampling/logits_processor.ts";

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
