/**
 * A tree of speculated tokens verified in one forward pass, and the buffers
 * that pass needs (ancestor mask, depth positions, retrieve paths), built in
 * pure TypeScript.
 *
 * @module
 */

/** One node of a {@linkcode SpeculationTree}. */
interface TreeNode {
  /** Token id, `-1` while unknown (a tree shape from choices). */
  token: number;
  /** Parent node index, `-1` for the root. */
  parent: number;
  /** Distance from the root (root = 0). */
  depth: number;
  /** Child node indices, in insertion order. */
  children: number[];
  /** For shapes built from choices: the rank path `[r1, ..., rd]` of this node. */
  choice: readonly number[];
}

/**
 * A speculation tree. Node 0 is the root: the last accepted token, not yet
 * in the KV cache; every other node is a speculated token. Nodes are stored
 * parents before children, which is the order the model consumes them in.
 *
 * Build it from token paths with {@linkcode SpeculationTree.addCandidate}
 * (shared prefixes merge), or as a fixed shape from Medusa-style choices with
 * {@linkcode SpeculationTree.fromChoices} and fill the tokens each step with
 * {@linkcode SpeculationTree.setToken}: the mask, positions and paths are built
 * once per shape and cached.
 *
 * @example Three candidates sharing prefixes
 * ```ts
 * import { SpeculationTree } from "@specdec/specdec";
 * const tree = new SpeculationTree(7);
 * tree.addCandidate([101, 202, 303]);
 * tree.addCandidate([101, 202, 404]);
 * tree.addCandidate([101, 505, 606]);
 * if (tree.size !== 7) throw new Error("root + 6 nodes");
 * const mask = tree.getAttentionMask(); // [7, 7] u8
 * if (mask[3 * 7 + 0] !== 1 || mask[4 * 7 + 3] !== 0) throw new Error("ancestors only");
 * ```
 */
export class SpeculationTree {
  #nodes: TreeNode[];
  #mask: Uint8Array | undefined;
  #depths: Int32Array | undefined;
  #paths: number[][] | undefined;

  /**
   * Creates a tree holding only its root.
   *
   * @param rootToken The root's token (the last accepted token), `-1` if not known yet.
   */
  constructor(rootToken: number = -1) {
    this.#nodes = [{ token: rootToken, parent: -1, depth: 0, children: [], choice: [] }];
  }

  /**
   * A fixed tree shape from Medusa-style choices: each choice is a path of
   * ranks, `[0]` = the top-1 candidate at depth 1, `[0, 1]` = the top-2
   * candidate at depth 2 under it, and so on. Every prefix of a choice must
   * itself be a choice. Nodes are ordered by depth, then lexicographically
   * (as the Medusa repository does), so parents come before children.
   *
   * @param choices Rank paths, e.g. `[[0], [0, 0], [1]]`.
   * @returns The tree shape, tokens unknown (`-1`).
   */
  static fromChoices(choices: readonly (readonly number[])[]): SpeculationTree {
    if (!Array.isArray(choices)) throw new TypeError("medusaChoices must be an array of paths");
    const seen = new Set<string>();
    for (const c of choices) {
      if (!Array.isArray(c) || c.length === 0) {
        throw new TypeError("medusaChoices entries must be non-empty arrays of ranks");
      }
      for (const r of c) {
        if (!Number.isInteger(r) || r < 0) {
          throw new RangeError(`medusaChoices ranks must be integers >= 0, got ${r}`);
        }
      }
      const key = c.join(",");
      if (seen.has(key)) throw new RangeError(`medusaChoices has a duplicate path [${key}]`);
      seen.add(key);
    }
    for (const c of choices) {
      if (c.length > 1 && !seen.has(c.slice(0, -1).join(","))) {
        throw new RangeError(
          `medusaChoices path [${c.join(",")}] has no parent path [${c.slice(0, -1).join(",")}]`,
        );
      }
    }
    const sorted = choices.map((c) => [...c]).sort((a, b) => {
      if (a.length !== b.length) return a.length - b.length;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return 0;
    });
    const tree = new SpeculationTree();
    const index = new Map<string, number>([["", 0]]);
    for (const c of sorted) {
      const parent = index.get(c.slice(0, -1).join(","))!;
      const id = tree.#nodes.length;
      tree.#nodes.push({ token: -1, parent, depth: c.length, children: [], choice: c });
      tree.#nodes[parent]!.children.push(id);
      index.set(c.join(","), id);
    }
    return tree;
  }

  /** Number of nodes, root included. */
  get size(): number {
    return this.#nodes.length;
  }

  /** Largest node depth (0 for a lone root). */
  get maxDepth(): number {
    let d = 0;
    for (const n of this.#nodes) if (n.depth > d) d = n.depth;
    return d;
  }

  /**
   * Adds a path of speculated tokens below the root, sharing any existing prefix.
   *
   * @param ids Token ids of the path, first speculated token first.
   * @returns The node index of each token of the path `[ids.length]`.
   */
  addCandidate(ids: ArrayLike<number>): number[] {
    const path: number[] = [];
    let cur = 0;
    for (let i = 0; i < ids.length; i++) {
      const tok = ids[i]!;
      if (!Number.isInteger(tok) || tok < 0) {
        throw new RangeError(`ids must be token ids >= 0, got ${tok} at ${i}`);
      }
      const node = this.#nodes[cur]!;
      let next = node.children.find((c) => this.#nodes[c]!.token === tok);
      if (next === undefined) {
        next = this.#nodes.length;
        this.#nodes.push({
          token: tok,
          parent: cur,
          depth: node.depth + 1,
          children: [],
          choice: [],
        });
        node.children.push(next);
        this.#invalidate();
      }
      path.push(next);
      cur = next;
    }
    return path;
  }

  /**
   * Sets a node's token (shapes from choices keep their buffers).
   *
   * @param node Node index, `0 <= node < size`.
   * @param token Token id.
   */
  setToken(node: number, token: number): void {
    this.#node(node).token = token;
  }

  /**
   * Token of a node.
   *
   * @param node Node index.
   * @returns Its token (`-1` if unset).
   */
  token(node: number): number {
    return this.#node(node).token;
  }

  /**
   * Parent of a node.
   *
   * @param node Node index.
   * @returns Its parent index (`-1` for the root).
   */
  parent(node: number): number {
    return this.#node(node).parent;
  }

  /**
   * Depth of a node.
   *
   * @param node Node index.
   * @returns Its depth (root = 0).
   */
  depth(node: number): number {
    return this.#node(node).depth;
  }

  /**
   * Children of a node.
   *
   * @param node Node index.
   * @returns Its children, in insertion (rank) order.
   */
  children(node: number): readonly number[] {
    return this.#node(node).children;
  }

  /**
   * Rank path of a node.
   *
   * @param node Node index.
   * @returns The rank path it was built from (empty unless built from choices).
   */
  choice(node: number): readonly number[] {
    return this.#node(node).choice;
  }

  /**
   * Tokens of every node, root first.
   *
   * @returns Every node's token `[size]` i32.
   */
  getTokens(): Int32Array {
    return Int32Array.from(this.#nodes, (n) => n.token);
  }

  /**
   * Depths of every node, root first.
   *
   * @returns Every node's depth `[size]` i32 (cached per shape; do not modify).
   */
  getDepths(): Int32Array {
    this.#depths ??= Int32Array.from(this.#nodes, (n) => n.depth);
    return this.#depths;
  }

  /**
   * Position ids for the forward pass: `offset + depth`.
   *
   * @param offset Position of the root (the current KV length).
   * @returns Positions `[size]` i32.
   */
  getPositions(offset: number = 0): Int32Array {
    const d = this.getDepths();
    const out = new Int32Array(d.length); // [size] i32
    for (let i = 0; i < d.length; i++) out[i] = offset + d[i]!;
    return out;
  }

  /**
   * Ancestor mask: `mask[i * size + j] = 1` when node `j` is node `i` or one of
   * its ancestors. Cached per shape; do not modify.
   *
   * @returns The mask `[size, size]` u8, row-major.
   */
  getAttentionMask(): Uint8Array {
    if (this.#mask) return this.#mask;
    const s = this.#nodes.length;
    const mask = new Uint8Array(s * s); // [size, size] u8
    for (let i = 0; i < s; i++) {
      for (let j = i; j !== -1; j = this.#nodes[j]!.parent) mask[i * s + j] = 1;
    }
    this.#mask = mask;
    return mask;
  }

  /**
   * Root-to-leaf node paths (Medusa's retrieve indices), one per leaf, in node
   * order of the leaves. Cached per shape; do not modify.
   *
   * @returns Paths of node indices, each starting with the root `0`.
   */
  getRetrievePaths(): number[][] {
    if (this.#paths) return this.#paths;
    const paths: number[][] = [];
    for (let i = 0; i < this.#nodes.length; i++) {
      if (this.#nodes[i]!.children.length > 0) continue;
      const path: number[] = [];
      for (let j = i; j !== -1; j = this.#nodes[j]!.parent) path.push(j);
      paths.push(path.reverse());
    }
    this.#paths = paths;
    return paths;
  }

  /**
   * Draws the tree.
   *
   * @returns An indented drawing of the tree, one node per line.
   */
  toString(): string {
    const lines: string[] = [];
    const walk = (n: number): void => {
      const node = this.#nodes[n]!;
      lines.push(`${"  ".repeat(node.depth)}[${n}] ${node.token}`);
      for (const c of node.children) walk(c);
    };
    walk(0);
    return lines.join("\n");
  }

  #node(i: number): TreeNode {
    const n = this.#nodes[i];
    if (n === undefined) {
      throw new RangeError(`node must be in [0, ${this.#nodes.length}), got ${i}`);
    }
    return n;
  }

  #invalidate(): void {
    this.#mask = undefined;
    this.#depths = undefined;
    this.#paths = undefined;
  }
}
