import assert from "node:assert/strict";
import { MC_SIM_7B_63, MEDUSA_TREE_SIZES, medusaChoices } from "../../lib/tree/medusa_choices.ts";
import { SpeculationTree } from "../../lib/tree/speculation_tree.ts";

Deno.test("SpeculationTree.addCandidate() merges shared prefixes, parents first", () => {
  const tree = new SpeculationTree(9);
  assert.deepEqual(tree.addCandidate([101, 202, 303]), [1, 2, 3]);
  assert.deepEqual(tree.addCandidate([101, 202, 404]), [1, 2, 4]);
  assert.deepEqual(tree.addCandidate([101, 505, 606]), [1, 5, 6]);
  assert.equal(tree.size, 7);
  assert.deepEqual(Array.from(tree.getTokens()), [9, 101, 202, 303, 404, 505, 606]);
  assert.deepEqual(Array.from(tree.getDepths()), [0, 1, 2, 3, 3, 2, 3]);
  assert.deepEqual(Array.from(tree.getPositions(10)), [10, 11, 12, 13, 13, 12, 13]);
  for (let i = 1; i < tree.size; i++) assert.ok(tree.parent(i) < i);
  assert.deepEqual(tree.getRetrievePaths(), [[0, 1, 2, 3], [0, 1, 2, 4], [0, 1, 5, 6]]);
});

Deno.test("SpeculationTree.getAttentionMask() lets a node see exactly its ancestors and itself", () => {
  const tree = new SpeculationTree(0);
  tree.addCandidate([1, 2, 3]);
  tree.addCandidate([1, 2, 4]);
  tree.addCandidate([1, 5, 6]);
  const s = tree.size;
  const mask = tree.getAttentionMask();
  assert.equal(mask.length, s * s);
  const expect: number[][] = [
    [1, 0, 0, 0, 0, 0, 0],
    [1, 1, 0, 0, 0, 0, 0],
    [1, 1, 1, 0, 0, 0, 0],
    [1, 1, 1, 1, 0, 0, 0],
    [1, 1, 1, 0, 1, 0, 0],
    [1, 1, 0, 0, 0, 1, 0],
    [1, 1, 0, 0, 0, 1, 1],
  ];
  assert.deepEqual(
    Array.from({ length: s }, (_, i) => Array.from(mask.subarray(i * s, i * s + s))),
    expect,
  );
  // adding a candidate invalidates the cached buffers
  tree.addCandidate([7]);
  assert.equal(tree.getAttentionMask().length, 64);
});

Deno.test("SpeculationTree.fromChoices() builds Medusa's layout", () => {
  const tree = SpeculationTree.fromChoices([[1], [0], [0, 0], [0, 1], [1, 0]]);
  assert.equal(tree.size, 6);
  // sorted by depth then lexicographically: [0], [1], [0,0], [0,1], [1,0]
  assert.deepEqual([1, 2, 3, 4, 5].map((i) => tree.choice(i).join()), [
    "0",
    "1",
    "0,0",
    "0,1",
    "1,0",
  ]);
  assert.deepEqual([1, 2, 3, 4, 5].map((i) => tree.parent(i)), [0, 0, 1, 1, 2]);
  assert.equal(tree.maxDepth, 2);
  // setToken keeps the cached mask
  const mask = tree.getAttentionMask();
  tree.setToken(3, 42);
  assert.equal(tree.getAttentionMask(), mask);
  assert.equal(tree.token(3), 42);
});

Deno.test("SpeculationTree.fromChoices() rejects malformed choices", () => {
  assert.throws(() => SpeculationTree.fromChoices([[0, 0]]), /no parent path/);
  assert.throws(() => SpeculationTree.fromChoices([[0], [0]]), /duplicate/);
  assert.throws(() => SpeculationTree.fromChoices([[-1]]), RangeError);
  assert.throws(() => SpeculationTree.fromChoices([[]]), TypeError);
});

Deno.test("medusaChoices() gives closed default trees of 4, 8, 16 and 64 nodes", () => {
  for (const size of MEDUSA_TREE_SIZES) {
    const tree = SpeculationTree.fromChoices(medusaChoices(size, 4));
    assert.equal(tree.size, size);
  }
  assert.deepEqual(medusaChoices(64, 4), MC_SIM_7B_63.map((c) => [...c]));
  // depth limited by the number of heads
  const shallow = SpeculationTree.fromChoices(medusaChoices(16, 2));
  assert.equal(shallow.size, 16);
  assert.equal(shallow.maxDepth, 2);
  assert.throws(() => medusaChoices(1, 4), /treeWidth/);
  assert.throws(() => medusaChoices(65, 4), /treeWidth/);
  assert.throws(() => medusaChoices(8, 0), /numHeads/);
});
