import assert from "node:assert/strict";
import { acceptChain } from "../../lib/sampling/chain_acceptance.ts";
import { Prng } from "../../lib/sampling/prng.ts";
import { sampleCategorical } from "../../lib/sampling/sample_categorical.ts";
import { acceptSiblings } from "../../lib/sampling/sibling_acceptance.ts";
import { typicalAccepts } from "../../lib/sampling/typical_acceptance.ts";
import { chiSquareTest } from "./_chi_square.ts";

const DRAWS = 100_000;
const ALPHA = 0.001;
// synthetic target p and draft q over a vocabulary of 6, deliberately different
const P = new Float64Array([0.35, 0.05, 0.25, 0.0, 0.15, 0.2]);
const Q = new Float64Array([0.1, 0.3, 0.2, 0.25, 0.05, 0.1]);
const P2 = new Float64Array([0.1, 0.4, 0.1, 0.1, 0.2, 0.1]);

function counts(draw: () => number): number[] {
  const c = new Array(P.length).fill(0);
  for (let i = 0; i < DRAWS; i++) c[draw()]++;
  return c;
}

Deno.test("sampleCategorical() follows its weights (chi-square)", () => {
  const prng = new Prng(1);
  const r = chiSquareTest(counts(() => sampleCategorical(P, prng)), P);
  assert.ok(r.pValue > ALPHA, `p = ${r.pValue}`);
});

Deno.test("acceptChain(): the emitted token follows p (1 draft from q, chi-square)", () => {
  const prng = new Prng(2);
  const c = counts(() => {
    const d = sampleCategorical(Q, prng);
    const v = acceptChain([P, P2], [Q], [d], prng);
    return v.accepted === 1 ? d : v.token;
  });
  const r = chiSquareTest(c, P);
  assert.ok(r.pValue > ALPHA, `p = ${r.pValue}`);
});

Deno.test("acceptChain(): second position and bonus follow p (2 drafts, chi-square)", () => {
  // position 1 is conditioned on the first token: use fixed p rows and check
  // the token emitted at position 2 when position 1 was accepted
  const prng = new Prng(3);
  const c = new Array(P.length).fill(0);
  let n = 0;
  while (n < DRAWS) {
    const d1 = sampleCategorical(Q, prng);
    const d2 = sampleCategorical(Q, prng);
    const v = acceptChain([P, P2, P], [Q, Q], [d1, d2], prng);
    if (v.accepted === 0) continue;
    c[v.accepted === 2 ? d2 : v.token]++;
    n++;
  }
  const r = chiSquareTest(c, P2);
  assert.ok(r.pValue > ALPHA, `p = ${r.pValue}`);
});

Deno.test("acceptChain() with a deterministic draft (null q) follows p", () => {
  const prng = new Prng(4);
  const c = counts(() => {
    const v = acceptChain([P, P2], [null], [2], prng);
    return v.accepted === 1 ? 2 : v.token;
  });
  const r = chiSquareTest(c, P);
  assert.ok(r.pValue > ALPHA, `p = ${r.pValue}`);
});

Deno.test("a wrong rule (always accept the draft) fails the same chi-square test", () => {
  const prng = new Prng(2);
  const c = counts(() => sampleCategorical(Q, prng));
  const r = chiSquareTest(c, P);
  assert.ok(r.pValue < ALPHA, `p = ${r.pValue}`);
  // and a subtler one: accept with min(1, p/q) but resample from p, not the residual
  const prng2 = new Prng(5);
  const c2 = counts(() => {
    const d = sampleCategorical(Q, prng2);
    if (prng2.nextFloat() < Math.min(1, P[d]! / Q[d]!)) return d;
    return sampleCategorical(P, prng2);
  });
  const r2 = chiSquareTest(c2, P);
  assert.ok(r2.pValue < ALPHA, `p = ${r2.pValue}`);
});

Deno.test("acceptSiblings(): 3 children drawn i.i.d. from q, output follows p (chi-square)", () => {
  const prng = new Prng(6);
  const c = counts(() => {
    const kids = [0, 1, 2].map(() => sampleCategorical(Q, prng));
    return acceptSiblings(P, kids, [Q, Q, Q], prng).token;
  });
  const r = chiSquareTest(c, P);
  assert.ok(r.pValue > ALPHA, `p = ${r.pValue}`);
});

Deno.test("acceptSiblings(): children from different drafts q1, q2 follow p", () => {
  const prng = new Prng(7);
  const c = counts(() => {
    const a = sampleCategorical(Q, prng);
    const b = sampleCategorical(P2, prng);
    return acceptSiblings(P, [a, b], [Q, P2], prng).token;
  });
  const r = chiSquareTest(c, P);
  assert.ok(r.pValue > ALPHA, `p = ${r.pValue}`);
});

Deno.test("acceptSiblings(): deterministic top-k children (Medusa exact) follow p", () => {
  const prng = new Prng(8);
  const c = counts(() => acceptSiblings(P, [1, 3, 0], [null, null, null], prng).token);
  const r = chiSquareTest(c, P);
  assert.ok(r.pValue > ALPHA, `p = ${r.pValue}`);
});

Deno.test("a wrong tree rule (no residual update between siblings) fails the test", () => {
  const prng = new Prng(6);
  const c = counts(() => {
    const kids = [0, 1, 2].map(() => sampleCategorical(Q, prng));
    for (const x of kids) if (prng.nextFloat() < Math.min(1, P[x]! / Q[x]!)) return x;
    return sampleCategorical(P, prng);
  });
  const r = chiSquareTest(c, P);
  assert.ok(r.pValue < ALPHA, `p = ${r.pValue}`);
});

Deno.test("typicalAccepts() applies min(epsilon, delta * exp(-H))", () => {
  const flat = new Float64Array(10).fill(0.1); // H = ln 10, delta e^-H = 0.03
  assert.equal(typicalAccepts(flat, 3, 0.09, 0.3), true);
  assert.equal(typicalAccepts(flat, 3, 0.2, 1.5), false); // threshold min(0.2, 0.15)
  const peaked = new Float64Array([0.97, 0.01, 0.01, 0.01]);
  assert.equal(typicalAccepts(peaked, 1, 0.09, 0.3), false);
  assert.equal(typicalAccepts(peaked, 0, 0.09, 0.3), true);
});
