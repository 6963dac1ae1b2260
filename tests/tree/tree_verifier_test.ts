import assert from "node:assert/strict";
import { Prng } from "../../lib/sampling/prng.ts";
import { SpeculationTree } from "../../lib/tree/speculation_tree.ts";
import { TreeVerifier } from "../../lib/tree/tree_verifier.ts";
import { chiSquareTest } from "../sampling/_chi_square.ts";

const V = 5;

/** Logits rows from probability rows. */
function logitsOf(rows: number[][]): Float32Array {
  return Float32Array.from(rows.flat().map((p) => Math.log(p)));
}

Deno.test("TreeVerifier greedy takes the longest path agreeing with the argmax", () => {
  const tree = new SpeculationTree(0);
  tree.addCandidate([1, 2]); // nodes 1, 2
  tree.addCandidate([3, 4]); // nodes 3, 4
  const rows = [
    [0.1, 0.1, 0.1, 0.6, 0.1], // root -> 3
    [0.6, 0.1, 0.1, 0.1, 0.1],
    [0.6, 0.1, 0.1, 0.1, 0.1],
    [0.1, 0.1, 0.1, 0.1, 0.6], // node 3 -> 4
    [0.1, 0.6, 0.1, 0.1, 0.1], // node 4 -> 1 (bonus)
  ];
  const v = new TreeVerifier().verify(tree, logitsOf(rows), new Prng(0));
  assert.deepEqual(v.path, [3, 4]);
  assert.deepEqual(v.tokens, [3, 4]);
  assert.equal(v.nextToken, 1);
});

Deno.test("TreeVerifier exact: first two tokens follow the target (chi-square, 100k)", () => {
  // root has children 0, 1, 2 (deterministic); child 0 has children 3, 4
  const tree = new SpeculationTree(0);
  tree.addCandidate([0, 3]);
  tree.addCandidate([0, 4]);
  tree.addCandidate([1]);
  tree.addCandidate([2]);
  // nodes: 1 = tok0, 2 = tok3, 3 = tok4, 4 = tok1, 5 = tok2
  const pRoot = [0.3, 0.2, 0.1, 0.25, 0.15];
  const pAfter: number[][] = [
    [0.05, 0.15, 0.2, 0.3, 0.3], // after token 0
    [0.2, 0.2, 0.2, 0.2, 0.2], // after token 1
    [0.5, 0.1, 0.1, 0.1, 0.2], // after token 2
  ];
  const uniform = [0.2, 0.2, 0.2, 0.2, 0.2];
  const rows = [pRoot, pAfter[0]!, uniform, uniform, pAfter[1]!, pAfter[2]!];
  const logits = logitsOf(rows);
  const verifier = new TreeVerifier({ temperature: 1, acceptance: "exact" });
  const prng = new Prng(11);
  const counts = new Array(V * V).fill(0);
  const expected = new Array(V * V).fill(0);
  for (let a = 0; a < V; a++) {
    const after = a <= 2 ? pAfter[a]! : uniform;
    for (let b = 0; b < V; b++) expected[a * V + b] = pRoot[a]! * after[b]!;
  }
  let tail = 0;
  for (let i = 0; i < 100_000; i++) {
    const v = verifier.verify(tree, logits, prng);
    const seq = [...v.tokens, v.nextToken];
    let second = seq[1];
    if (second === undefined) {
      // the first token was a residual sample with no node: draw the second from the target
      tail++;
      const r = prng.nextFloat();
      const after = uniform;
      let acc = 0;
      second = V - 1;
      for (let b = 0; b < V; b++) {
        acc += after[b]!;
        if (r < acc) {
          second = b;
          break;
        }
      }
    }
    counts[seq[0]! * V + second]++;
  }
  assert.ok(tail > 0);
  const r = chiSquareTest(counts, expected);
  assert.ok(r.pValue > 0.001, `p = ${r.pValue}`);
});

Deno.test("TreeVerifier typical picks the longest typical path", () => {
  const tree = new SpeculationTree(0);
  tree.addCandidate([1, 2]);
  tree.addCandidate([3]);
  const rows = [
    [0.05, 0.5, 0.05, 0.35, 0.05],
    [0.05, 0.05, 0.8, 0.05, 0.05],
    [0.2, 0.2, 0.2, 0.2, 0.2],
    [0.2, 0.2, 0.2, 0.2, 0.2],
  ];
  const v = new TreeVerifier({ temperature: 1, acceptance: "typical" }).verify(
    tree,
    logitsOf(rows),
    new Prng(1),
  );
  assert.deepEqual(v.tokens, [1, 2]);
});

Deno.test("TreeVerifier rejects bad options and logits", () => {
  assert.throws(() => new TreeVerifier({ acceptance: "lossy" as "exact" }), /acceptance/);
  assert.throws(() => new TreeVerifier({ posteriorThreshold: 0 }), /posteriorThreshold/);
  assert.throws(() => new TreeVerifier({ posteriorAlpha: -1 }), /posteriorAlpha/);
  const tree = new SpeculationTree(0);
  tree.addCandidate([1]);
  assert.throws(() => new TreeVerifier().verify(tree, new Float32Array(5), new Prng(0)), /logits/);
});
