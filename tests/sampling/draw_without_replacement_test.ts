import assert from "node:assert/strict";
import { drawWithoutReplacement } from "../../lib/sampling/draw_without_replacement.ts";
import { Prng } from "../../lib/sampling/prng.ts";
import { chiSquareTest } from "./_chi_square.ts";

Deno.test("drawWithoutReplacement: distinct tokens, each from the rest renormalised", () => {
  const p = new Float64Array([0.1, 0.2, 0.3, 0.4]);
  const prng = new Prng(7);
  for (let i = 0; i < 200; i++) {
    const draws = drawWithoutReplacement(p, 3, prng);
    assert.equal(draws.length, 3);
    assert.equal(new Set(draws.map((d) => d.token)).size, 3);
    assert.equal(draws[0]!.q, p); // the first draw is from p itself
    for (let j = 1; j < 3; j++) {
      const q = draws[j]!.q;
      for (let k = 0; k < j; k++) assert.equal(q[draws[k]!.token], 0);
      assert.ok(Math.abs(q.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    }
  }
});

Deno.test("drawWithoutReplacement: stops when no mass is left", () => {
  const draws = drawWithoutReplacement(new Float64Array([0, 1, 0]), 3, new Prng(1));
  assert.deepEqual(draws.map((d) => d.token), [1]);
});

Deno.test("drawWithoutReplacement: the second draw follows p without the first (chi-square)", () => {
  const p = new Float64Array([0.5, 0.3, 0.2]);
  const prng = new Prng(11);
  // P(second = b) = sum over a != b of p(a) p(b) / (1 - p(a)).
  const want = [0, 1, 2].map((b) =>
    [0, 1, 2].reduce((s, a) => (a === b ? s : s + p[a]! * p[b]! / (1 - p[a]!)), 0)
  );
  const counts = [0, 0, 0];
  for (let i = 0; i < 20_000; i++) counts[drawWithoutReplacement(p, 2, prng)[1]!.token]!++;
  const r = chiSquareTest(counts, Float64Array.from(want));
  assert.ok(r.pValue > 0.001, `p = ${r.pValue}`);
});
