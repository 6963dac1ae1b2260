import assert from "node:assert/strict";
import { Prng } from "../../lib/sampling/prng.ts";
import { chiSquareTest } from "./_chi_square.ts";

Deno.test("Prng is reproducible from its seed and differs across seeds", () => {
  const a = new Prng(123), b = new Prng(123), c = new Prng(124);
  const xa = Array.from({ length: 8 }, () => a.nextUint32());
  const xb = Array.from({ length: 8 }, () => b.nextUint32());
  const xc = Array.from({ length: 8 }, () => c.nextUint32());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc);
});

Deno.test("Prng.nextFloat() is uniform on [0, 1) (chi-square, 100k draws)", () => {
  const prng = new Prng(7);
  const bins = new Array(20).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const u = prng.nextFloat();
    assert.ok(u >= 0 && u < 1);
    bins[Math.floor(u * 20)]++;
  }
  const r = chiSquareTest(bins, new Array(20).fill(1 / 20));
  assert.ok(r.pValue > 0.001, `p = ${r.pValue}`);
});

Deno.test("Prng rejects a non-integer seed", () => {
  assert.throws(() => new Prng(1.5), TypeError);
});
