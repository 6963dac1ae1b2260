/**
 * Verification of a speculation tree against the target's logits at every node.
 *
 * @module
 */

import { argmax } from "../sampling/argmax.ts";
import { LogitsProcessor, type SamplingOptions } from "../sampling/logits_processor.ts";
import type { Prng } from "../sampling/prng.ts";
import { acceptSiblings } from "../sampling/sibling_acceptance.ts";
import { sampleCategorical } from "../sampling/sample_categorical.ts";
import { typicalAccepts } from "../sampling/typical_acceptance.ts";
import type { SpeculationTree } from "./speculation_tree.ts";

/** How candidates are accepted when sampling (temperature > 0). */
export type TreeAcceptance = "exact" | "typical";

/** Options of {@linkcode TreeVerifier}. */
export interface TreeVerifierOptions extends SamplingOptions {
  /**
   * `"exact"` (default): recursive rejection sampling across siblings, lossless.
   * `"typical"`: Medusa's typical acceptance, lossy. Ignored at temperature 0
   * (greedy: the longest path that agrees with the target's argmax).
   */
  acceptance?: TreeAcceptance;
  /** Typical acceptance hard threshold epsilon, in `(0, 1)`; default 0.09. */
  posteriorThreshold?: number;
  /** Typical acceptance entropy factor delta, `> 0`; default 0.3. */
  posteriorAlpha?: number;
}

/** Result of verifying a tree. */
export interface TreeVerdict {
  /** Accepted node indices below the root, root to leaf. */
  path: number[];
  /** Their tokens. */
  tokens: number[];
  /** The token after the accepted path (residual sample, correction or bonus). */
  nextToken: number;
}

/**
 * Verifies a tree of candidates given the target's logits for every node
 * (row `i` = distribution of the token after node `i`).
 *
 * @example Greedy verification
 * ```ts
 * import { Prng, SpeculationTree, TreeVerifier } from "@specdec/specdec";
 * const tree = new SpeculationTree(0);
 * tree.addCandidate([1, 2]);
 * tree.addCandidate([2]);
 * // nodes: 0 root, 1 = token 1, 2 = token 2 under 1, 3 = token 2; vocab 3
 * // root prefers 2 (node 3 agrees), node 3 prefers 0
 * const logits = new Float32Array([0, 0, 9, 0, 0, 9, 0, 9, 0, 9, 0, 0]); // [4, 3] f32
 * const v = new TreeVerifier().verify(tree, logits, new Prng(0));
 * if (v.tokens.join() !== "2" || v.nextToken !== 0) throw new Error(JSON.stringify(v));
 * ```
 */
export class TreeVerifier {
  /** The logits processor (temperature, top-k, top-p). */
  readonly processor: LogitsProcessor;
  /** Acceptance rule used when sampling. */
  readonly acceptance: TreeAcceptance;
  /** Typical acceptance epsilon. */
  readonly posteriorThreshold: number;
  /** Typical acceptance delta. */
  readonly posteriorAlpha: number;

  /**
   * Creates a verifier; throws on invalid options.
   *
   * @param options Sampling and acceptance options, validated here.
   */
  constructor(options: TreeVerifierOptions = {}) {
    this.processor = new LogitsProcessor(options);
    const acceptance = options.acceptance ?? "exact";
    if (acceptance !== "exact" && acceptance !== "typical") {
      throw new RangeError(`acceptance must be "exact" or "typical", got ${String(acceptance)}`);
    }
    this.acceptance = acceptance;
    this.posteriorThreshold = options.posteriorThreshold ?? 0.09;
    this.posteriorAlpha = options.posteriorAlpha ?? 0.3;
    if (!(this.posteriorThreshold > 0 && this.posteriorThreshold < 1)) {
      throw new RangeError(`posteriorThreshold must be in (0, 1), got ${this.posteriorThreshold}`);
    }
    if (!(this.posteriorAlpha > 0) || !Number.isFinite(this.posteriorAlpha)) {
      throw new RangeError(
        `posteriorAlpha must be a finite number > 0, got ${this.posteriorAlpha}`,
      );
    }
  }

  /**
   * Verifies the tree: greedy, exact or typical per the options.
   *
   * @param tree The verified tree (tokens set).
   * @param logits Target logits `[tree.size, vocab]` f32 from one forward over the tree.
   * @param prng Random source (unused when greedy).
   * @param draftProbs Draft distribution of a node's token, for trees whose
   *   children were sampled from a draft; absent or `null`: deterministic candidates.
   * @returns The accepted path and the next token.
   */
  verify(
    tree: SpeculationTree,
    logits: Float32Array,
    prng: Prng,
    draftProbs?: (node: number) => Float64Array | null,
  ): TreeVerdict {
    const s = tree.size;
    if (logits.length === 0 || logits.length % s !== 0) {
      throw new RangeError(`logits must hold ${s} rows, got ${logits.length} values`);
    }
    const vocab = logits.length / s;
    const row = (i: number): Float32Array => logits.subarray(i * vocab, (i + 1) * vocab);
    if (this.processor.greedy) return this.#greedy(tree, row);
    if (this.acceptance === "typical") return this.#typical(tree, row, prng);
    const path: number[] = [];
    const tokens: number[] = [];
    let node = 0;
    for (;;) {
      const p = this.processor.probs(row(node));
      const kids = tree.children(node);
      const cand = kids.map((k) => tree.token(k));
      const q = kids.map((k) => draftProbs?.(k) ?? null);
      const v = acceptSiblings(p, cand, q, prng);
      if (v.index < 0) return { path, tokens, nextToken: v.token };
      node = kids[v.index]!;
      path.push(node);
      tokens.push(v.token);
    }
  }

  #greedy(tree: SpeculationTree, row: (i: number) => Float32Array): TreeVerdict {
    const path: number[] = [];
    const tokens: number[] = [];
    let node = 0;
    for (;;) {
      const want = argmax(row(node));
      const next = tree.children(node).find((k) => tree.token(k) === want);
      if (next === undefined) return { path, tokens, nextToken: want };
      node = next;
      path.push(node);
      tokens.push(want);
    }
  }

  #typical(tree: SpeculationTree, row: (i: number) => Float32Array, prng: Prng): TreeVerdict {
    const probs = new Map<number, Float64Array>();
    const pOf = (i: number): Float64Array => {
      let p = probs.get(i);
      if (!p) probs.set(i, p = this.processor.probs(row(i)));
      return p;
    };
    let best: number[] = [];
    let bestLik = -Infinity;
    for (const full of tree.getRetrievePaths()) {
      const acc: number[] = [];
      let lik = 0;
      for (let d = 1; d < full.length; d++) {
        const node = full[d]!;
        const p = pOf(full[d - 1]!);
        const tok = tree.token(node);
        if (!typicalAccepts(p, tok, this.posteriorThreshold, this.posteriorAlpha)) break;
        acc.push(node);
        lik += Math.log(p[tok]!);
      }
      if (acc.length > best.length || (acc.length === best.length && lik > bestLik)) {
        best = acc;
        bestLik = lik;
      }
    }
    const last = best.length > 0 ? best[best.length - 1]! : 0;
    return {
      path: best,
      tokens: best.map((n) => tree.token(n)),
      nextToken: sampleCategorical(pOf(last), prng),
    };
  }
}
