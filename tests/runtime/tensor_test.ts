import assert from "node:assert/strict";
import { checkTensor, dtypeFromCode, elementCount, tensor } from "../../lib/runtime/tensor.ts";

Deno.test("tensor() allocates zeroed data of the dtype's array", () => {
  assert.ok(tensor("float32", [2, 3]).data instanceof Float32Array);
  assert.ok(tensor("int64", [4]).data instanceof BigInt64Array);
  assert.ok(tensor("float16", [4]).data instanceof Uint16Array);
  assert.ok(tensor("bool", [1]).data instanceof Uint8Array);
  assert.equal(tensor("int32", []).data.length, 1); // a scalar
  assert.equal(tensor("float32", [0, 5]).data.length, 0);
});

Deno.test("tensor() and checkTensor() name what is wrong", () => {
  assert.throws(() => tensor("float32", [2, -1]), /dims\[1\] must be a non-negative integer/);
  assert.throws(() => tensor("float32", [1.5]), RangeError);
  assert.throws(() => tensor("float32", [2], new Float32Array(3)), /must have 2 elements/);
  assert.throws(() => tensor("string" as "float32", [1]), TypeError);
  assert.throws(
    () => checkTensor({ dtype: "int64", dims: [2], data: new Int32Array(2) }, "feeds.ids"),
    /feeds\.ids\.data must be a BigInt64Array for dtype int64, got Int32Array/,
  );
  assert.throws(() => elementCount([1, 2, 3, 4, 5, 6, 7, 8, 9]), /at most 8 dims/);
});

Deno.test("dtypeFromCode() maps ONNX codes", () => {
  assert.equal(dtypeFromCode(1), "float32");
  assert.equal(dtypeFromCode(7), "int64");
  assert.equal(dtypeFromCode(8), undefined); // strings
});
