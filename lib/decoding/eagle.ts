/**
 * EAGLE decoding (Li et al. 2024, EAGLE-1 head; EAGLE-2 dynamic tree): a
 * one-layer head drafts from the target's own last hidden states, either as
 * a chain of K tokens or as a tree grown by draft confidence; the target
 * verifies the whole draft in one forward (tree mask), the accepted path's KV
 * is compacted with `keep()`, and the head is re-run on the accepted tokens'
 * real features so its own cache never holds a guessed feature.
 *
 * @module
 */

import type {
  DrafterResult,
  FeatureDrafter,
  LanguageModel,
  TextTokenizer,
} from "../model/language_model.ts";
import { argmax } from "../sampling/argmax.ts";
import { drawWithoutReplacement } from "../sampling/draw_without_replacement.ts";
import { sampleCategorical } from "../sampling/sample_categorical.ts";
import { SpeculationTree } from "../tree/speculation_tree.ts";
import {
  type LookupBranch,
  type LookupBranchConfig,
  lookupBranchDraft,
  resolveLookupBranch,
} from "./lookup_branch.ts";
import { TreeVerifier } from "../tree/tree_verifier.ts";
import { BaseDecoder, type DecodeRun } from "./base_decoder.ts";
import { checkInt, checkModel, checkTokenizer, row } from "./_util.ts";
import type { Decoder, DecodingConfig } from "./decoder.ts";

/** Largest chain length or tree depth. */
export const MAX_EAGLE_DEPTH = 16;

/** Largest dynamic tree, in draft nodes (root excluded). */
export const MAX_EAGLE_TREE_NODES = 128;

/**
 * Default tree size in draft nodes (0: a chain): 4 children of the root. Measured on the bench
 * pair (8 held-out code prompts x 128 tokens, greedy, 2 cores, load ~2, the step-200 head with
 * held-out top-1 0.37): trees of 4 and 3 root children 1.04x and 1.00x autoregressive (τ 1.68,
 * 1.63), 8 nodes over 2 depths 0.97x, chains K=1 and 2 0.75x and 0.81x.
 */
export const DEFAULT_EAGLE_TREE_NODES = 4;

/** Default chain length (`treeNodes: 0`): K=2 led the chains on the bench pair (0.81x vs 0.75x). */
export const DEFAULT_EAGLE_CHAIN = 2;

/** A dynamic tree's shape: size, depth limit, children per node, nodes expanded per depth. */
export interface EagleTreeShape {
  /** Draft nodes (root excluded). */
  treeNodes: number;
  /** Depth limit. */
  numSpeculativeTokens: number;
  /** Children (draft top-k) per expanded node. */
  branching: number;
  /** Nodes expanded per depth. */
  expandPerDepth: number;
}

/**
 * The default shape of an EAGLE-2 tree of `nodes` draft nodes (what `treeNodes` alone gets):
 * shallow and wide while the tree is small. Every depth costs one head forward per step (on the
 * bench pair a head forward is about a fifth of a target step), while extra nodes at depth 1
 * cost only verified tokens; measured there (`bench/eagle_sweep.ts`), 4 children of the root
 * beat 4 nodes over 2, 3 or 4 depths.
 *
 * @param nodes Draft nodes, `1..128`.
 * @returns The shape.
 *
 * @example
 * ```ts
 * import { eagleTreeShape } from "@specdec/specdec";
 * const s = eagleTreeShape(16);
 * if (s.treeNodes !== 16 || s.numSpeculativeTokens > 16) throw new Error("bad shape");
 * ```
 */
export function eagleTreeShape(nodes: number): EagleTreeShape {
  checkInt("nodes", nodes, 1, MAX_EAGLE_TREE_NODES);
  const [depth, branching, expand] = nodes <= 4
    ? [1, nodes, 1]
    : nodes <= 8
    ? [2, 4, 1]
    : nodes <= 16
    ? [3, 4, 2]
    : nodes <= 32
    ? [4, 6, 3]
    : [6, 8, 4];
  return {
    treeNodes: nodes,
    numSpeculativeTokens: Math.min(depth, nodes),
    branching,
    expandPerDepth: expand,
  };
}

/** Configuration of {@linkcode EagleDecoder}. */
export interface EagleConfig extends DecodingConfig, LookupBranchConfig {
  /**
   * Chain: tokens drafted per step, `1..16` (default 2). Tree: the depth limit (default
   * {@linkcode eagleTreeShape}'s for the size).
   */
  numSpeculativeTokens?: number;
  /**
   * Draft nodes per step (root excluded), `1..128`: grows an EAGLE-2 dynamic tree of at most
   * this many nodes. 0: a chain of `numSpeculativeTokens`. Default {@linkcode DEFAULT_EAGLE_TREE_NODES}.
   */
  treeNodes?: number;
  /** Tree: children (draft top-k) of each expanded node, `1..32`; default by tree size. */
  branching?: number;
  /** Tree: nodes expanded per depth (the most confident of the frontier), `1..32`; default by tree size. */
  expandPerDepth?: number;
  /**
   * Tree candidates when sampling (temperature > 0): `"sampled"` (default; children drawn
   * without replacement from the head's processed distribution, verified against it, as
   * SpecInfer does) or `"top-k"` (the head's top-k ranked as in greedy EAGLE-2, verified as
   * point masses). Both are exact. Greedy decoding always uses the top-k.
   */
  treeCandidates?: EagleTreeCandidates;
}

/** How an EAGLE tree's candidates are chosen when sampling. */
export type EagleTreeCandidates = "sampled" | "top-k";

/** Constructor options of {@linkcode EagleDecoder}. */
export interface EagleDecoderOptions {
  /** The target model (must return hidden states with `hidden: true` and accept tree masks). */
  targetModel: LanguageModel;
  /** Its EAGLE head (for example {@linkcode EagleHeads}). */
  head: FeatureDrafter;
  /** The target's tokenizer. */
  tokenizer: TextTokenizer;
  /** Draft shape, sampling and length settings. */
  config?: EagleConfig;
}

/** A node of the tree being grown (index 0 of the list is the first depth-1 node). */
interface DraftNode {
  /** Token id. */
  token: number;
  /** Parent in the node list, `-1` for the root. */
  parent: number;
  /** Depth (1 = child of the root). */
  depth: number;
  /** Cumulative draft log-probability of the path. */
  score: number;
  /** The head's slot of this node's expansion row, `-1` until expanded. */
  slot: number;
  /** The predicted feature of this node (set when expanded) `[H]` f32. */
  hidden: Float32Array | undefined;
  /** Sampled candidates: the distribution this node's token was drawn from `[V]` f64. */
  q: Float64Array | undefined;
}

/** Head rows whose features are known but not yet in the head's cache. */
interface Backlog {
  /** Token after each feature. */
  ids: number[];
  /** Features `[H]` f32 each. */
  features: Float32Array[];
}

/** The draft of one step, ready for verification. */
interface StepDraft {
  /** The tree (a chain is a tree with one child per node). */
  tree: SpeculationTree;
  /** True when the tree is a chain (verified without a mask, rewound rather than compacted). */
  chain: boolean;
  /** Draft distribution of each node's token when it was sampled (chains at temperature > 0). */
  q: Map<number, Float64Array>;
}

/**
 * Speculative decoding with an EAGLE head.
 *
 * Losslessness: greedy output is the target's argmax chain (the greedy tree
 * verifier). When sampling, chain drafts are sampled from the processed draft
 * distribution and verified by rejection sampling with it; tree children are
 * either drawn without replacement (`treeCandidates: "sampled"`, the default)
 * and verified by recursive rejection against the distribution each was drawn
 * from, or the head's top-k (`"top-k"`), a deterministic function of the
 * context, verified with point-mass drafts. Both are exact; sampled trees keep
 * every child they draw, since pruning children by their own probability (the
 * greedy EAGLE-2 rerank) would bias the rule.
 *
 * With a prompt-lookup branch (`lookupTokens`), a greedy step whose copied
 * tokens start with the head's own next token verifies the copy alone, without
 * further head forwards.
 *
 * @example A 16-node dynamic tree, greedy: the target's own greedy output
 * ```ts
 * import { AutoregressiveDecoder, CausalLM, EagleDecoder, EagleHeads, Tokenizer } from "@specdec/specdec";
 * using target = await CausalLM.load("models/tiny-target", { maxLength: 128 });
 * using head = await EagleHeads.load("models/tiny-target/eagle", { maxLength: 192 });
 * const tokenizer = await Tokenizer.load("models/tiny-target");
 * const config = { treeNodes: 16, temperature: 0, maxNewTokens: 24 };
 * const dec = new EagleDecoder({ targetModel: target, head, tokenizer, config });
 * const { tokens, metrics } = await dec.generate("def parse(line):");
 * const ar = new AutoregressiveDecoder({ model: target, tokenizer, config: { temperature: 0, maxNewTokens: 24 } });
 * if (tokens.join() !== (await ar.generate("def parse(line):")).tokens.join()) throw new Error("unexpected");
 * if (metrics.meanAcceptedLength < 1) throw new Error("unexpected");
 * ```
 */
export class EagleDecoder extends BaseDecoder implements Decoder {
  /** Always `"eagle"`. */
  readonly name = "eagle";
  /** The target model. */
  readonly targetModel: LanguageModel;
  /** The EAGLE head. */
  readonly head: FeatureDrafter;
  /** Chain length, or the tree's depth limit. */
  readonly numSpeculativeTokens: number;
  /** Tree size in draft nodes (0: chain). */
  readonly treeNodes: number;
  /** Children per expanded node. */
  readonly branching: number;
  /** Nodes expanded per depth. */
  readonly expandPerDepth: number;
  /** Tree candidates in use (`"top-k"` when greedy). */
  readonly treeCandidates: EagleTreeCandidates;
  /** The verifier (greedy, or exact recursive rejection). */
  readonly verifier: TreeVerifier;
  /** The prompt-lookup branch ({@linkcode LookupBranchConfig}; `tokens` 0: none). */
  readonly lookup: LookupBranch;

  /**
   * Creates the decoder; checks the target, the head, the tokenizer and the config.
   *
   * @param options Target, head, tokenizer and config, validated here.
   */
  constructor(options: EagleDecoderOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("options must be an object");
    }
    const { targetModel, head, tokenizer } = options;
    checkModel(targetModel, "targetModel");
    if (
      head === null || typeof head !== "object" || typeof head.forward !== "function" ||
      typeof head.rewind !== "function"
    ) {
      throw new TypeError("head must be a FeatureDrafter");
    }
    if (head.vocabSize !== targetModel.vocabSize || head.hiddenSize !== targetModel.hiddenSize) {
      throw new RangeError(
        `head (hidden ${head.hiddenSize}, vocab ${head.vocabSize}) does not fit targetModel ` +
          `(hidden ${targetModel.hiddenSize}, vocab ${targetModel.vocabSize})`,
      );
    }
    checkTokenizer(tokenizer, targetModel.vocabSize, "targetModel");
    const config = options.config ?? {};
    super(tokenizer, config);
    this.treeNodes = config.treeNodes === undefined
      ? DEFAULT_EAGLE_TREE_NODES
      : checkInt("treeNodes", config.treeNodes, 0, MAX_EAGLE_TREE_NODES);
    const shape = this.treeNodes > 0 ? eagleTreeShape(this.treeNodes) : undefined;
    this.numSpeculativeTokens = config.numSpeculativeTokens === undefined
      ? shape?.numSpeculativeTokens ?? DEFAULT_EAGLE_CHAIN
      : checkInt("numSpeculativeTokens", config.numSpeculativeTokens, 1, MAX_EAGLE_DEPTH);
    this.branching = config.branching === undefined
      ? Math.min(shape?.branching ?? 1, targetModel.vocabSize)
      : checkInt("branching", config.branching, 1, Math.min(32, targetModel.vocabSize));
    this.expandPerDepth = config.expandPerDepth === undefined
      ? shape?.expandPerDepth ?? 1
      : checkInt("expandPerDepth", config.expandPerDepth, 1, 32);
    const candidates = config.treeCandidates ?? "sampled";
    if (candidates !== "sampled" && candidates !== "top-k") {
      throw new RangeError(
        `treeCandidates must be "sampled" or "top-k", got ${String(config.treeCandidates)}`,
      );
    }
    this.treeCandidates = this.processor.greedy ? "top-k" : candidates;
    this.lookup = resolveLookupBranch(config);
    this.verifier = new TreeVerifier(this._verifierOptions());
    this.targetModel = targetModel;
    this.head = head;
  }

  /** The smaller of the target's and the head's KV capacities. */
  protected get contextLength(): number {
    return Math.min(this.targetModel.maxLength, this.head.maxLength);
  }

  /** Vocabulary of the target. */
  protected get vocabSize(): number {
    return this.targetModel.vocabSize;
  }

  /** Draft (chain or tree), verify in one target forward, keep the accepted path. */
  protected async *_decode(run: DecodeRun): AsyncGenerator<number[], void, undefined> {
    const m = this.targetModel;
    const head = this.head;
    const v = m.vocabSize;
    const hs = m.hiddenSize;
    const rec = run.metrics;
    rec.hasDraft = true;
    const prompt = run.promptIds;
    const pre = await rec.prefill(() => m.prefill(prompt, { hidden: true, logits: "last" }));
    if (pre.hidden === undefined) throw new TypeError("targetModel did not return hidden states");
    let pending = this._choose(row(pre.logits, v, -1), run.prng);
    // Row t of the head reads (token t + 1, feature t): the prompt's rows are all known now.
    head.reset();
    const n0 = prompt.length;
    const ids0 = [...prompt.slice(1), pending];
    const feats0 = pre.hidden;
    // the head's output for its last row (it drafts the token after the root)
    let drafted: DrafterResult = await rec.prefill(
      () => head.forward(ids0, feats0, positions(0, n0), { logitRows: [n0 - 1] }),
      true,
    );
    yield [pending];
    const backlog: Backlog = { ids: [], features: [] };
    const context = this.lookup.tokens > 0 ? [...prompt, pending] : []; // for the lookup branch
    for (;;) {
      const P = m.kvLength; // the root (pending) goes to slot P
      if (P + 1 > m.maxLength) return;
      if (head.kvLength + backlog.ids.length !== P) {
        throw new Error(`head cache out of sync: ${head.kvLength}+${backlog.ids.length} vs ${P}`);
      }
      const room = m.maxLength - P - 1; // tree nodes that fit after the root
      const depth = Math.min(room, run.remaining() - 1); // drafts that can still be emitted
      let step: StepDraft;
      if (depth < 1) {
        step = { tree: new SpeculationTree(pending), chain: true, q: new Map() };
      } else {
        if (backlog.ids.length > 0) {
          const n = backlog.ids.length;
          const start = head.kvLength;
          const feats = concatRows(backlog.features, hs);
          const ids = backlog.ids;
          drafted = await rec.draft(() =>
            head.forward(ids, feats, positions(start, n), { logitRows: [n - 1] })
          );
          backlog.ids = [];
          backlog.features = [];
        }
        const root = drafted;
        const rootFeature = row(root.hidden, hs, -1);
        // Greedy with a lookup branch: copied tokens that start with the head's own next
        // token are the step's whole draft, with no further head forward (the head agrees
        // where the output repeats its context; measured on the bench pair, chain K=4 +
        // lookup 16: 26% fewer head forwards, 2% more target steps, faster). Verification
        // keeps the target's argmax chain either way.
        const copied = this.lookup.tokens > 0
          ? lookupBranchDraft(context, this.lookup, Math.min(depth, room))
          : [];
        // greedy: whether the copy starts with the head's own next token (undefined: not asked)
        const agrees = this.processor.greedy && copied.length > 0
          ? argmax(root.logits) === copied[0]
          : undefined;
        if (agrees === true && copied.length >= 2) {
          const tree = new SpeculationTree(pending);
          tree.addCandidate(copied);
          step = { tree, chain: true, q: new Map() };
        } else {
          step = this.treeNodes > 0
            ? await this.#growTree(pending, P, root.logits, rootFeature, room, depth, run)
            : await this.#growChain(pending, P, root.logits, rootFeature, depth, run);
        }
        head.rewind(P); // drop the expansion rows: they hold guessed features
        // a copy whose first token the head does not draft is left out (as the draft-target
        // decoder does; A/B on the bench pair: -2%, +8% in two runs, +1% on prose)
        if (agrees !== false) {
          this.#addLookup(step, copied.slice(0, Math.max(0, room - (step.tree.size - 1))));
        }
      }
      const tree = step.tree;
      const ids = tree.getTokens();
      const out = await rec.target(() =>
        m.forward(
          ids,
          tree.getPositions(P),
          step.chain ? { hidden: true } : { treeMask: tree.getAttentionMask(), hidden: true },
        )
      );
      if (out.hidden === undefined) throw new TypeError("targetModel did not return hidden states");
      const q = step.q;
      const verdict = this.verifier.verify(
        tree,
        out.logits,
        run.prng,
        q.size > 0 ? (node) => q.get(node) ?? null : undefined,
      );
      const a = verdict.path.length;
      rec.step(tree.maxDepth, a, tree.size);
      if (step.chain) m.rewind(P + 1 + a);
      else m.keep([P, ...verdict.path.map((n) => P + n)]);
      // the head's next rows: (accepted token, feature of its predecessor) along the path
      backlog.features.push(row(out.hidden, hs, 0));
      for (const n of verdict.path) backlog.features.push(row(out.hidden, hs, n));
      backlog.ids.push(...verdict.tokens, verdict.nextToken);
      pending = verdict.nextToken;
      if (this.lookup.tokens > 0) context.push(...verdict.tokens, pending);
      yield [...verdict.tokens, pending];
    }
  }

  /** Adds the prompt-lookup branch (if any); a chain the branch leaves becomes a tree. */
  #addLookup(step: StepDraft, draft: readonly number[]): void {
    if (draft.length === 0) return;
    const t = step.tree;
    t.addCandidate(draft);
    if (t.maxDepth < t.size - 1) step.chain = false;
  }

  /** K tokens, each from the head's previous row: argmax, or a sample (with its q) when sampling. */
  async #growChain(
    pending: number,
    P: number,
    logits: Float32Array,
    feature: Float32Array,
    depth: number,
    run: DecodeRun,
  ): Promise<StepDraft> {
    const K = Math.min(this.numSpeculativeTokens, depth, this.head.maxLength - P + 1);
    const q = new Map<number, Float64Array>();
    const tokens: number[] = [];
    let r = logits; // [V] f32
    let f = feature; // [H] f32
    for (let i = 1; i <= K; i++) {
      let tok: number;
      if (this.processor.greedy) tok = argmax(r);
      else {
        const qi = this.processor.probs(r);
        tok = sampleCategorical(qi, run.prng);
        q.set(i, qi);
      }
      tokens.push(tok);
      if (i === K) break;
      const ids = [tok];
      const feats = f;
      const out = await run.metrics.draft(() => this.head.forward(ids, feats, [P + i - 1]));
      r = out.logits;
      f = out.hidden;
    }
    const tree = new SpeculationTree(pending);
    tree.addCandidate(tokens);
    return { tree, chain: true, q };
  }

  /**
   * EAGLE-2: expand the `expandPerDepth` most confident frontier nodes per
   * depth (one head forward per depth, tree mask over the expansion rows).
   * Top-k candidates: each expanded node gets the head's top `branching`
   * children, then the `treeNodes` nodes of highest cumulative draft
   * log-probability are kept (a child never outranks its parent, so the kept
   * set is a tree); they are verified as point masses. Sampled candidates
   * (temperature > 0 by default): each expanded node gets `branching`
   * children drawn without replacement from the processed draft distribution,
   * all kept (a node's children never depend on their own values, which keeps
   * the rule exact), verified against the distribution each was drawn from.
   */
  async #growTree(
    pending: number,
    P: number,
    logits: Float32Array,
    feature: Float32Array,
    room: number,
    depth: number,
    run: DecodeRun,
  ): Promise<StepDraft> {
    const head = this.head;
    const hs = head.hiddenSize;
    const v = head.vocabSize;
    const sampled = this.treeCandidates === "sampled";
    const maxNodes = Math.min(this.treeNodes, room);
    const depthLimit = Math.min(this.numSpeculativeTokens, depth, maxNodes);
    const nodes: DraftNode[] = [];
    const addChildren = (r: Float32Array, parent: number, base: number, d: number): void => {
      if (sampled) {
        const count = Math.min(this.branching, maxNodes - nodes.length);
        const probs = this.processor.probs(r);
        for (const { token, q } of drawWithoutReplacement(probs, count, run.prng)) {
          nodes.push({
            token,
            parent,
            depth: d,
            score: base + Math.log(probs[token]!),
            slot: -1,
            hidden: undefined,
            q,
          });
        }
        return;
      }
      const lse = logSumExp(r);
      for (const t of topK(r, this.branching)) {
        nodes.push({
          token: t,
          parent,
          depth: d,
          score: base + r[t]! - lse,
          slot: -1,
          hidden: undefined,
          q: undefined,
        });
      }
    };
    addChildren(logits, -1, 0, 1);
    let frontier = nodes.map((_, i) => i);
    for (let d = 1; d < depthLimit; d++) {
      let width = Math.min(this.expandPerDepth, head.maxLength - head.kvLength);
      if (sampled) width = Math.min(width, Math.ceil((maxNodes - nodes.length) / this.branching));
      const sel = best(nodes, frontier, width);
      if (sel.length === 0) break;
      const S = sel.length;
      const start = head.kvLength;
      const W = start + S - P; // mask columns: slots [P, start + S)
      const mask = new Uint8Array(S * W); // [S, W] u8
      const ids: number[] = [];
      const feats = new Float32Array(S * hs); // [S, H] f32
      sel.forEach((n, i) => {
        const node = nodes[n]!;
        ids.push(node.token);
        feats.set(node.parent < 0 ? feature : nodes[node.parent]!.hidden!, i * hs);
        mask[i * W + start - P + i] = 1;
        for (let a = node.parent; a >= 0; a = nodes[a]!.parent) {
          mask[i * W + nodes[a]!.slot - P] = 1;
        }
      });
      const pos = new Array<number>(S).fill(P + d - 1);
      const out = await run.metrics.draft(() =>
        head.forward(ids, feats, pos, { treeMask: mask, maskStart: P })
      );
      frontier = [];
      sel.forEach((n, i) => {
        const node = nodes[n]!;
        node.slot = start + i;
        node.hidden = out.hidden.subarray(i * hs, (i + 1) * hs);
        const first = nodes.length;
        addChildren(out.logits.subarray(i * v, (i + 1) * v), n, node.score, d + 1);
        for (let c = first; c < nodes.length; c++) frontier.push(c);
      });
    }
    const kept = sampled
      ? nodes.map((_, i) => i)
      : best(nodes, nodes.map((_, i) => i), maxNodes).sort((x, y) => x - y);
    const tree = new SpeculationTree(pending);
    const q = new Map<number, Float64Array>();
    const path = (n: number): number[] => {
      const out: number[] = [];
      for (let a = n; a >= 0; a = nodes[a]!.parent) out.push(nodes[a]!.token);
      return out.reverse();
    };
    for (const n of kept) {
      const at = tree.addCandidate(path(n));
      const qn = nodes[n]!.q;
      if (qn !== undefined) q.set(at[at.length - 1]!, qn);
    }
    return { tree, chain: false, q };
  }
}

/** Positions `[start, start + n)`. */
function positions(start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}

/** Rows `[H]` f32 stacked into `[rows, H]` f32. */
function concatRows(rows: Float32Array[], h: number): Float32Array {
  const out = new Float32Array(rows.length * h); // [rows, H] f32
  rows.forEach((r, i) => out.set(r, i * h));
  return out;
}

/** `log(sum(exp(r)))`, stable. */
function logSumExp(r: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < r.length; i++) if (r[i]! > max) max = r[i]!;
  let s = 0;
  for (let i = 0; i < r.length; i++) s += Math.exp(r[i]! - max);
  return max + Math.log(s);
}

/** Indices of the `k` largest values, largest first; ties to the lower index. */
function topK(r: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < r.length; i++) {
    const x = r[i]!;
    if (best.length === k && !(x > r[best[k - 1]!]!)) continue;
    let j = best.length < k ? best.length : k - 1;
    if (best.length < k) best.push(i);
    while (j > 0 && x > r[best[j - 1]!]!) {
      best[j] = best[j - 1]!;
      j--;
    }
    best[j] = i;
  }
  return best;
}

/** The `k` candidates of highest score, ties to the earlier node. */
function best(nodes: readonly DraftNode[], candidates: readonly number[], k: number): number[] {
  return [...candidates].sort((a, b) => nodes[b]!.score - nodes[a]!.score || a - b).slice(0, k);
}
