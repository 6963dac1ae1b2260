/**
 * Default Medusa tree shapes ("choices").
 *
 * @module
 */

/**
 * The Medusa repository's `mc_sim_7b_63` tree (FasterDecoding/Medusa,
 * `medusa/model/medusa_choices.py`): 63 rank paths over 4 heads and top-10
 * candidates, ordered by how much each node added to the accepted length in
 * the authors' simulation. Any prefix of it that keeps parents closed is a good
 * smaller tree.
 */
export const MC_SIM_7B_63: readonly (readonly number[])[] = [
  [0],
  [0, 0],
  [1],
  [0, 1],
  [2],
  [0, 0, 0],
  [1, 0],
  [0, 2],
  [3],
  [0, 3],
  [4],
  [0, 4],
  [2, 0],
  [0, 5],
  [0, 0, 1],
  [5],
  [0, 6],
  [6],
  [0, 7],
  [0, 1, 0],
  [1, 1],
  [7],
  [0, 8],
  [0, 0, 2],
  [3, 0],
  [0, 9],
  [8],
  [9],
  [1, 0, 0],
  [0, 2, 0],
  [1, 2],
  [0, 0, 3],
  [4, 0],
  [2, 1],
  [0, 0, 4],
  [0, 0, 5],
  [0, 0, 0, 0],
  [0, 1, 1],
  [0, 0, 6],
  [0, 3, 0],
  [5, 0],
  [1, 3],
  [0, 0, 7],
  [0, 0, 8],
  [0, 0, 9],
  [6, 0],
  [0, 4, 0],
  [1, 4],
  [7, 0],
  [0, 1, 2],
  [2, 0, 0],
  [3, 1],
  [2, 2],
  [8, 0],
  [0, 5, 0],
  [1, 5],
  [1, 0, 1],
  [0, 2, 1],
  [9, 0],
  [0, 6, 0],
  [0, 0, 0, 1],
  [1, 6],
  [0, 7, 0],
]; // deno-fmt-ignore

/** The node counts (root included) of the shipped default trees. */
export const MEDUSA_TREE_SIZES: readonly number[] = [4, 8, 16, 64];

/**
 * A tree of `treeWidth` nodes (root included) for `numHeads` heads: the first
 * paths of {@linkcode MC_SIM_7B_63} no deeper than `numHeads` whose parent is
 * already in, so `medusaChoices(4, 4)`, `(8, 4)`, `(16, 4)` and `(64, 4)` are the
 * 4-, 8-, 16- and 64-node defaults.
 *
 * @param treeWidth Number of nodes including the root, `2..64`.
 * @param numHeads Maximum depth (number of Medusa heads), `>= 1`.
 * @returns Rank paths for {@linkcode SpeculationTree.fromChoices}.
 *
 * @example
 * ```ts
 * import { medusaChoices } from "@specdec/specdec";
 * const c = medusaChoices(4, 4);
 * if (JSON.stringify(c) !== "[[0],[0,0],[1]]") throw new Error();
 * ```
 */
export function medusaChoices(treeWidth: number, numHeads: number): number[][] {
  if (!Number.isInteger(treeWidth) || treeWidth < 2 || treeWidth > MC_SIM_7B_63.length + 1) {
    throw new RangeError(
      `treeWidth must be an integer in [2, ${MC_SIM_7B_63.length + 1}], got ${treeWidth}`,
    );
  }
  if (!Number.isInteger(numHeads) || numHeads < 1) {
    throw new RangeError(`numHeads must be an integer >= 1, got ${numHeads}`);
  }
  const out: number[][] = [];
  const have = new Set<string>([""]);
  for (const c of MC_SIM_7B_63) {
    if (out.length === treeWidth - 1) break;
    if (c.length > numHeads || !have.has(c.slice(0, -1).join(","))) continue;
    out.push([...c]);
    have.add(c.join(","));
  }
  return out;
}
