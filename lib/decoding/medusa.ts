/**
 * Medusa decoding (Cai et al. 2024): prediction heads on the base model's last
 * hidden state propose several tokens per future position; their top-k are
 * laid out as a tree, verified in one base forward with a tree mask, and the
 * accepted path's KV entries are compacted with `keep()`.
 *
 * @module
 */

import type { LanguageModel, PredictionHeads, TextTokenizer } from "../model/language_model.ts";
import { medusaChoices } from "../tree/medusa_choices.ts";
import { SpeculationTree } from "../tree/speculation_tree.ts";
import {
  type TreeAcceptance,
  TreeVerifier,
  type TreeVerifierOptions,
} from "../tree/tree_verifier.ts";
import { drawWithoutReplacement } from "../sampling/draw_without_replacement.ts";
import type { Prng } from "../sampling/prng.ts";
import { BaseDecoder, type DecodeRun } from "./base_decoder.ts";
import { checkInt, checkModel, checkTokenizer, row } from "./_util.ts";
import type { Decoder, DecodingConfig } from "./decoder.ts";
import {
  type LookupBranch,
  type LookupBranchConfig,
  lookupBranchDraft,
  resolveLookupBranch,
} from "./lookup_branch.ts";

/** Configuration of {@linkcode MedusaDecoder}. */
export interface MedusaConfig extends DecodingConfig, LookupBranchConfig {
  /** Heads used (the tree's depth limit), `1..heads.numHeads`; default all. */
  numHeads?: number;
  /**
   * Top-k taken from each head; default (and minimum) the largest rank the tree
   * uses plus one.
   */
  numCandidatesPerHead?: number;
  /** Explicit tree: rank paths as in the Medusa repository's `medusa_choices` (exclusive with treeWidth). */
  medusaChoices?: readonly (readonly number[])[];
  /**
   * Tree size in nodes, root included, `2..64`: the first paths of `mc_sim_7b_63`
   * (see {@linkcode medusaChoices}); 4, 8, 16 and 64 are the shipped defaults.
   * Default 4, the best tree of `deno task bench:report` on a 2-core CPU (`results/REPORT.md`):
   * there every verified node costs target time; larger trees may win on a GPU.
   */
  treeWidth?: number;
  /** Sampling acceptance: `"exact"` (lossless, default) or `"typical"` (lossy). Greedy at temperature 0. */
  acceptance?: TreeAcceptance;
  /** Typical acceptance epsilon, default 0.09. */
  posteriorThreshold?: number;
  /** Typical acceptance delta, default 0.3. */
  posteriorAlpha?: number;
  /**
   * Tree candidates when sampling with exact acceptance: `"sampled"` (default; each node's
   * children drawn without replacement from its head's processed distribution and verified
   * against it, as SpecInfer does, so a candidate is accepted with probability
   * `min(1, p / q)`) or `"top-k"` (the heads' top-k ranked as in greedy decoding, verified as
   * point masses: accepted with probability `p`). Both are exact. Greedy decoding and typical
   * acceptance always use the top-k.
   */
  treeCandidates?: "sampled" | "top-k";
}

/** Constructor options of {@linkcode MedusaDecoder}. */
export interface MedusaDecoderOptions {
  /** The base model (must return hidden states with `hidden: true` and accept tree masks). */
  baseModel: LanguageModel;
  /** Its Medusa heads. */
  heads: PredictionHeads;
  /** Its tokenizer. */
  tokenizer: TextTokenizer;
  /** Tree, acceptance, sampling and length settings. */
  config?: MedusaConfig;
}

/**
 * Tree-based speculative decoding with Medusa heads.
 *
 * @example A 16-node tree, greedy: the base model's own greedy output
 * ```ts
 * import { AutoregressiveDecoder, CausalLM, MedusaDecoder, MedusaHeads, Tokenizer } from "@specdec/specdec";
 * using baseModel = await CausalLM.load("models/tiny-target", { maxLength: 128 });
 * using heads = await MedusaHeads.load("models/tiny-target/medusa");
 * const tokenizer = await Tokenizer.load("models/tiny-target");
 * const config = { treeWidth: 16, temperature: 0, maxNewTokens: 24 };
 * const dec = new MedusaDecoder({ baseModel, heads, tokenizer, config });
 * const { tokens, metrics } = await dec.generate("def add(a, b):");
 * const ar = new AutoregressiveDecoder({ model: baseModel, tokenizer, config: { temperature: 0, maxNewTokens: 24 } });
 * if (tokens.join() !== (await ar.generate("def add(a, b):")).tokens.join()) throw new Error("unexpected");
 * if (metrics.targetForwards > tokens.length) throw new Error("unexpected");
 * ```
 */
export class MedusaDecoder extends BaseDecoder implements Decoder {
  /** Always `"medusa"`. */
  readonly name = "medusa";
  /** The base model. */
  readonly baseModel: LanguageModel;
  /** The heads. */
  readonly heads: PredictionHeads;
  /** The tree shape (node 0 = root), built once. */
  readonly tree: SpeculationTree;
  /** Heads used. */
  readonly numHeads: number;
  /** Top-k per head. */
  readonly numCandidatesPerHead: number;
  /** The verifier (acceptance rule and sampling). */
  readonly verifier: TreeVerifier;
  /** The prompt-lookup branch ({@linkcode LookupBranchConfig}; `tokens` 0: none). */
  readonly lookup: LookupBranch;
  /** Tree candidates when sampling with exact acceptance ({@linkcode MedusaConfig.treeCandidates}). */
  readonly treeCandidates: "sampled" | "top-k";
  /** A root-only tree, used when the cache has no room for the full tree. */
  readonly #rootOnly = new SpeculationTree();
  /** Each shape node's children in rank order (the order sampled candidates are drawn in). */
  readonly #rankedChildren: readonly (readonly number[])[];

  /**
   * Creates the decoder; checks the model, heads, tree and config, and builds the tree buffers once.
   *
   * @param options Base model, heads, tokenizer and config, validated here.
   */
  constructor(options: MedusaDecoderOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("options must be an object");
    }
    const { baseModel, heads, tokenizer } = options;
    checkModel(baseModel, "baseModel");
    if (heads === null || typeof heads !== "object" || typeof heads.forward !== "function") {
      throw new TypeError("heads must be PredictionHeads");
    }
    checkInt("heads.numHeads", heads.numHeads, 1);
    if (heads.vocabSize !== baseModel.vocabSize) {
      throw new RangeError(
        `heads vocabSize ${heads.vocabSize} differs from baseModel vocabSize ${baseModel.vocabSize}`,
      );
    }
    checkTokenizer(tokenizer, baseModel.vocabSize, "baseModel");
    const config = options.config ?? {};
    super(tokenizer, config);
    const numHeads = config.numHeads === undefined
      ? heads.numHeads
      : checkInt("numHeads", config.numHeads, 1, heads.numHeads);
    if (config.medusaChoices !== undefined && config.treeWidth !== undefined) {
      throw new TypeError("give medusaChoices or treeWidth, not both");
    }
    let choices: readonly (readonly number[])[];
    if (config.medusaChoices !== undefined) {
      choices = config.medusaChoices;
    } else {
      const width = config.treeWidth === undefined
        ? 4
        : checkInt("treeWidth", config.treeWidth, 2, 64);
      choices = medusaChoices(width, numHeads);
    }
    const tree = SpeculationTree.fromChoices(choices);
    if (tree.maxDepth > numHeads) {
      throw new RangeError(
        `medusaChoices depth ${tree.maxDepth} exceeds numHeads ${numHeads}: ` +
          `a tree can be at most as deep as the number of heads`,
      );
    }
    let needK = 1;
    for (const c of choices) for (const r of c) needK = Math.max(needK, r + 1);
    const topK = config.numCandidatesPerHead === undefined
      ? needK
      : checkInt("numCandidatesPerHead", config.numCandidatesPerHead, needK, baseModel.vocabSize);
    if (needK > baseModel.vocabSize) {
      throw new RangeError(`medusaChoices rank ${needK - 1} exceeds the vocabulary`);
    }
    const verifierOptions: TreeVerifierOptions = this._verifierOptions();
    if (config.acceptance !== undefined) verifierOptions.acceptance = config.acceptance;
    if (config.posteriorThreshold !== undefined) {
      verifierOptions.posteriorThreshold = config.posteriorThreshold;
    }
    if (config.posteriorAlpha !== undefined) verifierOptions.posteriorAlpha = config.posteriorAlpha;
    this.verifier = new TreeVerifier(verifierOptions);
    const candidates = config.treeCandidates ?? "sampled";
    if (candidates !== "sampled" && candidates !== "top-k") {
      throw new RangeError(
        `treeCandidates must be "sampled" or "top-k", got ${String(config.treeCandidates)}`,
      );
    }
    this.treeCandidates = candidates;
    this.lookup = resolveLookupBranch(config);
    this.baseModel = baseModel;
    this.heads = heads;
    this.tree = tree;
    const rank = (n: number): number => tree.choice(n).at(-1) ?? 0;
    this.#rankedChildren = Array.from(
      { length: tree.size },
      (_, n) => [...tree.children(n)].sort((a, b) => rank(a) - rank(b)),
    );
    this.numHeads = numHeads;
    this.numCandidatesPerHead = topK;
    // build the cached buffers once
    tree.getAttentionMask();
    tree.getRetrievePaths();
    this.#rootOnly.getAttentionMask();
  }

  /** False with typical acceptance at temperature > 0 (lossy); true otherwise. */
  override get lossless(): boolean {
    return this.verifier.processor.greedy || this.verifier.acceptance === "exact";
  }

  /** KV capacity of the base model. */
  protected get contextLength(): number {
    return this.baseModel.maxLength;
  }

  /** Vocabulary of the base model. */
  protected get vocabSize(): number {
    return this.baseModel.vocabSize;
  }

  /** Whether this step's candidates are drawn from the heads (exact acceptance, sampling). */
  get #samplesCandidates(): boolean {
    return this.treeCandidates === "sampled" && !this.verifier.processor.greedy &&
      this.verifier.acceptance === "exact";
  }

  /**
   * The tree shape filled with sampled candidates: each node's children (in rank order) are
   * draws without replacement from the processed distribution of the head of their depth, the
   * draws of different nodes independent. A child whose draw found no mass left is dropped with
   * its subtree. Records each node's distribution in `drawnFrom`.
   */
  #sampledTree(
    headLogits: Float32Array,
    root: number,
    prng: Prng,
    drawnFrom: Map<number, Float64Array>,
  ): SpeculationTree {
    const shape = this.tree;
    const ranked = this.#rankedChildren;
    const v = this.heads.vocabSize;
    const probs: Float64Array[] = []; // per head, [V] f64, computed when first needed
    const out = new SpeculationTree(root);
    // Breadth first from the root, each node's children in rank order, which is the order they
    // are drawn in and, added so, the order the verifier tries them (the rule needs both equal).
    const queue: { node: number; tokens: number[] }[] = [{ node: 0, tokens: [] }];
    for (let i = 0; i < queue.length; i++) {
      const { node, tokens } = queue[i]!;
      const kids = ranked[node]!;
      if (kids.length === 0) continue;
      const head = shape.choice(kids[0]!).length - 1;
      probs[head] ??= this.verifier.processor.probs(headLogits.subarray(head * v, (head + 1) * v));
      const draws = drawWithoutReplacement(probs[head]!, kids.length, prng);
      for (let j = 0; j < draws.length; j++) {
        const path = [...tokens, draws[j]!.token];
        const at = out.addCandidate(path);
        drawnFrom.set(at[at.length - 1]!, draws[j]!.q);
        queue.push({ node: kids[j]!, tokens: path });
      }
    }
    return out;
  }

  /** Top-k indices of each head's logits, ties to the lower index. */
  #topK(headLogits: Float32Array): Int32Array[] {
    const v = this.heads.vocabSize;
    const k = this.numCandidatesPerHead;
    const out: Int32Array[] = [];
    for (let h = 0; h < this.numHeads; h++) {
      const r = headLogits.subarray(h * v, (h + 1) * v);
      const best = new Int32Array(k).fill(-1); // [k] i32, sorted by score descending
      const score = new Float64Array(k).fill(-Infinity); // [k] f64
      for (let i = 0; i < v; i++) {
        const x = r[i]!;
        if (!(x > score[k - 1]!) && best[k - 1] !== -1) continue;
        let j = k - 1;
        while (j > 0 && (x > score[j - 1]! || best[j - 1] === -1)) {
          score[j] = score[j - 1]!;
          best[j] = best[j - 1]!;
          j--;
        }
        score[j] = x;
        best[j] = i;
      }
      out.push(best);
    }
    return out;
  }

  /** Candidates from the heads, one tree forward, verify, compact. */
  protected async *_decode(run: DecodeRun): AsyncGenerator<number[], void, undefined> {
    const m = this.baseModel;
    const v = m.vocabSize;
    const hs = m.hiddenSize;
    const rec = run.metrics;
    rec.hasDraft = true;
    const pre = await rec.prefill(() => m.prefill(run.promptIds, { hidden: true, logits: "last" }));
    if (pre.hidden === undefined) throw new TypeError("baseModel did not return hidden states");
    let pending = this._choose(row(pre.logits, v, -1), run.prng);
    let hidden = row(pre.hidden, hs, -1).slice(); // [hiddenSize] f32
    const context = this.lookup.tokens > 0 ? [...run.promptIds, pending] : []; // lookup branch
    yield [pending];
    for (;;) {
      const p0 = m.kvLength;
      if (p0 + 1 > m.maxLength) return;
      const full = p0 + this.tree.size <= m.maxLength && run.remaining() > 1;
      let tree = full ? this.tree : this.#rootOnly;
      tree.setToken(0, pending);
      // Sampled candidates only: node -> the distribution it was drawn from; `tree` is then this
      // step's own tree, so new paths may be added to it.
      let drawnFrom: Map<number, Float64Array> | undefined;
      if (full) {
        const h = hidden;
        const headLogits = await rec.draft(() => this.heads.forward(h));
        if (this.#samplesCandidates) {
          drawnFrom = new Map();
          tree = this.#sampledTree(headLogits, pending, run.prng, drawnFrom);
        } else {
          const top = this.#topK(headLogits);
          for (let n = 1; n < tree.size; n++) {
            const c = tree.choice(n);
            tree.setToken(n, top[c.length - 1]![c[c.length - 1]!]!);
          }
        }
      }
      if (this.lookup.tokens > 0) {
        const room = Math.min(m.maxLength - p0 - tree.size, run.remaining() - 1);
        const copied = lookupBranchDraft(context, this.lookup, room);
        if (copied.length > 0) {
          if (drawnFrom !== undefined) tree.addCandidate(copied);
          else tree = withCandidate(tree, copied);
        }
      }
      const t = tree;
      const ids = t.getTokens();
      const out = await rec.target(() =>
        m.forward(ids, t.getPositions(p0), { treeMask: t.getAttentionMask(), hidden: true })
      );
      if (out.hidden === undefined) throw new TypeError("baseModel did not return hidden states");
      const verdict = this.verifier.verify(
        tree,
        out.logits,
        run.prng,
        drawnFrom !== undefined ? (n) => drawnFrom.get(n) ?? null : undefined,
      );
      rec.step(tree.maxDepth, verdict.path.length, tree.size);
      const slots = [p0, ...verdict.path.map((n) => p0 + n)];
      m.keep(slots);
      const last = verdict.path.length > 0 ? verdict.path[verdict.path.length - 1]! : 0;
      hidden = row(out.hidden, hs, last).slice();
      pending = verdict.nextToken;
      if (this.lookup.tokens > 0) context.push(...verdict.tokens, pending);
      yield [...verdict.tokens, pending];
    }
  }
}

/** A copy of `tree` (tokens set) with one more candidate path (the shape trees stay as built). */
function withCandidate(tree: SpeculationTree, ids: readonly number[]): SpeculationTree {
  const out = new SpeculationTree(tree.token(0));
  for (const path of tree.getRetrievePaths()) {
    out.addCandidate(path.slice(1).map((n) => tree.token(n)));
  }
  out.addCandidate(ids);
  return out;
}
