/**
 * Draft-target speculative decoding (Leviathan et al. 2023; Chen et al. 2023):
 * a small draft proposes K tokens, the target verifies them in one forward.
 * Greedy output is token-for-token the target's; sampled output follows the
 * target's distribution exactly (rejection sampling).
 *
 * @module
 */

import type { LanguageModel, TextTokenizer } from "../model/language_model.ts";
import { argmax } from "../sampling/argmax.ts";
import { acceptChain } from "../sampling/chain_acceptance.ts";
import { sampleCategorical } from "../sampling/sample_categorical.ts";
import { BaseDecoder, type DecodeRun } from "./base_decoder.ts";
import { chainPositions, checkInt, checkModel, checkTokenizer, row } from "./_util.ts";
import type { Decoder, DecodingConfig } from "./decoder.ts";
import { SpeculationTree } from "../tree/speculation_tree.ts";
import { TreeVerifier } from "../tree/tree_verifier.ts";
import {
  type LookupBranch,
  type LookupBranchConfig,
  lookupBranchDraft,
  resolveLookupBranch,
} from "./lookup_branch.ts";

/** Prefills need the last position's logits only. */
const LAST = { logits: "last" } as const;
/** Largest accepted speculation length. */
export const MAX_SPECULATIVE_TOKENS = 32;

/** How the speculation length K changes between steps. */
export type SpeculationSchedule = "constant" | "heuristic";

/** Configuration of {@linkcode DraftTargetDecoder}. */
export interface SpeculativeDecodingConfig extends DecodingConfig, LookupBranchConfig {
  /**
   * K, tokens drafted per step (the starting K with the heuristic schedule), `1..32`; default 3,
   * the best K of `deno task bench:report` on the bundled models (`results/REPORT.md`).
   */
  numSpeculativeTokens?: number;
  /**
   * `"constant"` (default): always K. `"heuristic"` (as in Hugging Face assisted
   * generation): K += 2 after a step that accepted every draft, K -= 1 after a
   * rejection, within `[minSpeculativeTokens, maxSpeculativeTokens]`.
   */
  schedule?: SpeculationSchedule;
  /** Lower bound of K under the heuristic schedule, `>= 1`; default 1. */
  minSpeculativeTokens?: number;
  /** Upper bound of K under the heuristic schedule, `<= 32`; default `min(32, 2 K)`. */
  maxSpeculativeTokens?: number;
  /**
   * Draft-confidence early stop, in `[0, 1)`: stop drafting once the draft
   * gives its own latest token a probability below this; 0 (default) disables.
   */
  confidenceThreshold?: number;
}

/** Constructor options of {@linkcode DraftTargetDecoder}. */
export interface DraftTargetDecoderOptions {
  /** The small model that proposes tokens. */
  draftModel: LanguageModel;
  /** The model whose output is reproduced. */
  targetModel: LanguageModel;
  /** The tokenizer both models share. */
  tokenizer: TextTokenizer;
  /** The draft's tokenizer when it was loaded separately: checked to match `tokenizer`. */
  draftTokenizer?: TextTokenizer;
  /** Speculation, sampling and length settings. */
  config?: SpeculativeDecodingConfig;
}

const PROBE_TEXTS = ["Hello, world! 123", " the quick brown fox", "\n\tÀé 日本"];

/**
 * Speculative decoding with a draft model.
 *
 * Each step: the draft runs K forwards (the first also absorbs tokens it has
 * not seen yet), the target runs one forward over `[pending, d1..dK]`, the
 * accepted prefix stays in both KV caches and the rest is rewound. When all K
 * are accepted the draft has not seen `dK`; it is fed together with the next
 * pending token at the start of the next step, so the caches stay in sync.
 *
 * With a prompt-lookup branch (`lookupTokens`), greedy drafting starts from the
 * copied tokens: one draft forward over them finds the prefix the draft agrees
 * with (its argmax at each position), which becomes that many draft tokens at
 * once, followed by the draft's own token where it disagrees. When it agrees
 * with at least the first copied token that is the whole draft of the step;
 * otherwise the draft continues one token per forward.
 *
 * @example Greedy speculative decoding: the target's own greedy output, fewer target forwards
 * ```ts
 * import { AutoregressiveDecoder, CausalLM, DraftTargetDecoder, Tokenizer } from "@specdec/specdec";
 * using targetModel = await CausalLM.load("models/tiny-target", { maxLength: 128 });
 * using draftModel = await CausalLM.load("models/tiny-draft", { maxLength: 128 });
 * const tokenizer = await Tokenizer.load("models/tiny-target");
 * const dec = new DraftTargetDecoder({
 *   draftModel, targetModel, tokenizer,
 *   config: { numSpeculativeTokens: 4, temperature: 0, maxNewTokens: 32 },
 * });
 * const { tokens, metrics } = await dec.generate("def add(a, b):");
 * const ar = new AutoregressiveDecoder({ model: targetModel, tokenizer, config: { temperature: 0, maxNewTokens: 32 } });
 * if (tokens.join() !== (await ar.generate("def add(a, b):")).tokens.join()) throw new Error("unexpected");
 * if (metrics.acceptanceRate < 0 || metrics.acceptanceRate > 1) throw new Error("unexpected");
 * ```
 */
export class DraftTargetDecoder extends BaseDecoder implements Decoder {
  /** Always `"draft-target"`. */
  readonly name = "draft-target";
  /** The draft model. */
  readonly draftModel: LanguageModel;
  /** The target model. */
  readonly targetModel: LanguageModel;
  /** K (the starting K with the heuristic schedule). */
  readonly numSpeculativeTokens: number;
  /** The K schedule. */
  readonly schedule: SpeculationSchedule;
  /** Lower bound of K. */
  readonly minSpeculativeTokens: number;
  /** Upper bound of K. */
  readonly maxSpeculativeTokens: number;
  /** Draft-confidence early-stop threshold (0 = off). */
  readonly confidenceThreshold: number;
  /** The prompt-lookup branch ({@linkcode LookupBranchConfig}; `tokens` 0: none). */
  readonly lookup: LookupBranch;
  #verifier: TreeVerifier;

  /**
   * Creates the decoder; checks both models, the tokenizer(s) and every config parameter.
   *
   * @param options Models, tokenizer and config, all validated here.
   */
  constructor(options: DraftTargetDecoderOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("options must be an object");
    }
    const { draftModel, targetModel, tokenizer } = options;
    checkModel(draftModel, "draftModel");
    checkModel(targetModel, "targetModel");
    if (draftModel === targetModel) {
      throw new TypeError("draftModel and targetModel must be different model instances");
    }
    // Vocabularies may differ by padding only (Qwen2.5-7B has 152064 rows, 0.5B 151936, one
    // tokenizer of 151665 ids): every id the tokenizer produces must exist in both.
    const shared = Math.min(draftModel.vocabSize, targetModel.vocabSize);
    if (draftModel.vocabSize !== targetModel.vocabSize && tokenizer?.vocabSize > shared) {
      throw new RangeError(
        `draftModel vocabSize ${draftModel.vocabSize} and targetModel vocabSize ` +
          `${targetModel.vocabSize} differ by more than padding: the tokenizer has ` +
          `${tokenizer.vocabSize} ids (draft and target must share one tokenizer)`,
      );
    }
    checkTokenizer(tokenizer, shared, "targetModel");
    if (options.draftTokenizer !== undefined) {
      const dt = options.draftTokenizer;
      checkTokenizer(dt, shared, "draftModel");
      const same = dt.vocabSize === tokenizer.vocabSize && dt.eosTokenId === tokenizer.eosTokenId &&
        PROBE_TEXTS.every((t) => dt.encode(t).join() === tokenizer.encode(t).join());
      if (!same) {
        throw new RangeError(
          "draftTokenizer differs from tokenizer: draft and target must share one tokenizer",
        );
      }
    }
    const config = options.config ?? {};
    super(tokenizer, config);
    const k = config.numSpeculativeTokens === undefined
      ? 3
      : checkInt("numSpeculativeTokens", config.numSpeculativeTokens, 1, MAX_SPECULATIVE_TOKENS);
    const schedule = config.schedule ?? "constant";
    if (schedule !== "constant" && schedule !== "heuristic") {
      throw new RangeError(`schedule must be "constant" or "heuristic", got ${String(schedule)}`);
    }
    const minK = config.minSpeculativeTokens === undefined
      ? 1
      : checkInt("minSpeculativeTokens", config.minSpeculativeTokens, 1, k);
    const maxK = config.maxSpeculativeTokens === undefined
      ? Math.min(MAX_SPECULATIVE_TOKENS, 2 * k)
      : checkInt("maxSpeculativeTokens", config.maxSpeculativeTokens, k, MAX_SPECULATIVE_TOKENS);
    const ct = config.confidenceThreshold ?? 0;
    if (typeof ct !== "number" || !(ct >= 0 && ct < 1)) {
      throw new RangeError(`confidenceThreshold must be in [0, 1), got ${String(ct)}`);
    }
    this.draftModel = draftModel;
    this.targetModel = targetModel;
    this.numSpeculativeTokens = k;
    this.schedule = schedule;
    this.minSpeculativeTokens = minK;
    this.maxSpeculativeTokens = maxK;
    this.confidenceThreshold = ct;
    this.lookup = resolveLookupBranch(config);
    this.#verifier = new TreeVerifier(this._verifierOptions());
  }

  /** The smaller of the two KV capacities. */
  protected get contextLength(): number {
    return Math.min(this.targetModel.maxLength, this.draftModel.maxLength);
  }

  /** Ids both models have (the smaller vocabulary when one is padded): prompts stay inside. */
  protected get vocabSize(): number {
    return Math.min(this.targetModel.vocabSize, this.draftModel.vocabSize);
  }

  /** Draft K, verify once, keep the accepted prefix. */
  protected async *_decode(run: DecodeRun): AsyncGenerator<number[], void, undefined> {
    const target = this.targetModel;
    const draft = this.draftModel;
    const v = target.vocabSize;
    const vd = draft.vocabSize;
    // Padded vocabularies: the draft proposes only ids both models have (its other logits are
    // masked), its q is zero past them, and the target keeps its full distribution, so greedy
    // and rejection sampling stay exact. A padded id the target emits is never fed to a draft
    // that lacks it: an in-range stand-in changes only what the draft proposes next.
    const shared = Math.min(v, vd);
    const standIn = (t: number): number => (t < vd ? t : 0);
    const greedy = this.processor.greedy;
    const rec = run.metrics;
    rec.hasDraft = true;
    const capacity = this.contextLength;

    const pre = await rec.prefill(() => target.prefill(run.promptIds, LAST));
    let pending = this._choose(row(pre.logits, v, -1), run.prng);
    await rec.prefill(() => draft.prefill(run.promptIds, LAST), true);
    let draftBacklog: number[] = [pending]; // accepted tokens the draft has not seen yet
    const context = this.lookup.tokens > 0 ? [...run.promptIds, pending] : []; // lookup branch
    yield [pending];

    let k = this.numSpeculativeTokens;
    for (;;) {
      const p0 = target.kvLength; // pending goes to slot p0
      if (draft.kvLength + draftBacklog.length !== p0 + 1) {
        throw new Error(
          `draft cache out of sync: ${draft.kvLength}+${draftBacklog.length} vs ${p0 + 1}`,
        );
      }
      // Room: the target needs slots [p0, p0 + 1 + K); the draft [.., p0 + K).
      const room = capacity - p0 - 1;
      if (room < 0) return;
      const kStep = Math.max(0, Math.min(k, room, run.remaining() - 1));

      // 1. draft kStep tokens
      const drafts: number[] = [];
      const q: Float64Array[] = [];
      let feed = vd < v ? draftBacklog.map(standIn) : draftBacklog;
      // This step's lookup copy, once: the seed and the branch are prefixes of it (a longer
      // limit only extends the same match).
      const copy = this.lookup.tokens > 0
        ? lookupBranchDraft(context, this.lookup, Math.min(room, run.remaining() - 1))
        : [];
      let kEnd = kStep; // drafting stops here
      let dropBranch = false; // the lookup branch is left out of this step
      if (greedy && this.lookup.tokens > 0 && this.confidenceThreshold === 0 && kStep > 0) {
        // Greedy with a lookup branch: the copied tokens go through the draft in one forward
        // with its backlog; the prefix it agrees with (its own argmax at each position) becomes
        // draft tokens at once, plus its argmax where it first disagrees. When it agrees with
        // at least the first copied token, that is the step's draft (the output repeats its
        // context here; the copy itself is verified as the lookup branch); otherwise drafting
        // goes on one token per forward and the copy is left out (the draft, which agrees with
        // the target far more often than a copy does, says it goes wrong at once). Measured on
        // the bench pair (K=7 + lookup 16, 8 code prompts, interleaved): the seeding alone 21%
        // fewer draft forwards than one per token, the stop 9% fewer again for 5% more target
        // steps, +7% and +11% tok/s in two runs; leaving the copy out +5% and +1%. Verification
        // keeps the target's argmax chain either way.
        const seed = copy.slice(0, Math.max(0, Math.min(kStep, room - 1)));
        if (seed.length > 0 && seed.every((t) => t < vd)) {
          const start = draft.kvLength;
          const ids = [...feed, ...seed];
          const out = await rec.draft(() => draft.forward(ids, chainPositions(start, ids.length)));
          const b = feed.length - 1; // row b predicts the token after the backlog
          let d = 0;
          while (
            d < seed.length && argmax(row(out.logits, vd, b + d).subarray(0, shared)) === seed[d]
          ) d++;
          drafts.push(...seed.slice(0, Math.min(d, kStep)));
          if (drafts.length < kStep) {
            drafts.push(argmax(row(out.logits, vd, b + d).subarray(0, shared)));
          }
          // as after any drafting: the draft has seen the backlog and every draft but the last
          draft.rewind(start + feed.length + drafts.length - 1);
          feed = [drafts[drafts.length - 1]!];
          if (d > 0) kEnd = drafts.length;
          else dropBranch = true; // it disagrees at once: the copy is not verified either
        }
      }
      for (let i = drafts.length; i < kEnd; i++) {
        const start = draft.kvLength;
        const ids = feed;
        // logits of the last row only (the first forward of a step also takes the backlog)
        const out = await rec.draft(() =>
          draft.forward(ids, chainPositions(start, ids.length), LAST)
        );
        const r = row(out.logits, vd, -1).subarray(0, shared);
        let tok: number;
        let conf: number;
        if (greedy) {
          tok = argmax(r); // q is not needed: greedy verification compares argmaxes
          conf = this.confidenceThreshold > 0 ? this.#topProb(r) : 1;
        } else {
          let qi = this.processor.probs(r);
          tok = sampleCategorical(qi, run.prng);
          if (qi.length < v) {
            const full = new Float64Array(v); // [v] f64, zero on the target's padded ids
            full.set(qi);
            qi = full;
          }
          q.push(qi);
          conf = qi[tok]!;
        }
        drafts.push(tok);
        feed = [tok];
        if (conf < this.confidenceThreshold) break;
      }
      const kUsed = drafts.length;

      // 2. verify [pending, d1..dK] (and the lookup branch, if any) in one target forward
      let accepted: number; // accepted drafts
      let onChain: number; // of them, along the draft's own chain
      let tokens: number[];
      let next: number;
      let verified: number;
      let offered = kUsed;
      // new nodes that fit, tokens left to emit (none without a branch)
      const room2 = Math.min(room - kUsed, run.remaining() - 1);
      let copied = dropBranch ? [] : copy.slice(0, Math.max(0, room2));
      // A copy that leaves the draft's chain (a token of it differs from the draft's) fills at
      // most the rows the chain left unused this step (kStep - kUsed: none when the draft ran
      // to K), so verifying it never costs more rows than a full chain; a copy that extends
      // the chain is kept whole. Rows beyond a few cost real time here (f32 verification is
      // compute-bound past 8 rows on the bench pair) and a copy the draft disagrees with is
      // rarely accepted far; when it is right the next step copies on. Measured interleaved
      // (8 code prompts x 8 repetitions, q4 draft, lookup 32): K=5 2.38x -> 2.53x, K=4 2.39x
      // -> 2.47x, K=7 2.42x -> 2.44x autoregressive.
      let agreed = 0;
      while (agreed < Math.min(kUsed, copied.length) && copied[agreed] === drafts[agreed]) {
        agreed++;
      }
      if (agreed < Math.min(kUsed, copied.length)) {
        copied = copied.slice(0, agreed + Math.max(0, kStep - kUsed));
      }
      let branch: SpeculationTree | undefined;
      if (copied.length > 0) {
        branch = new SpeculationTree(pending);
        if (kUsed > 0) branch.addCandidate(drafts); // nodes 1..kUsed
        branch.addCandidate(copied);
      }
      if (branch !== undefined && branch.size > kUsed + 1) {
        const t = branch;
        const ids = t.getTokens();
        const chain = t.maxDepth === t.size - 1;
        const out = await rec.target(() =>
          target.forward(ids, t.getPositions(p0), chain ? {} : { treeMask: t.getAttentionMask() })
        );
        const verdict = this.#verifier.verify(
          t,
          out.logits,
          run.prng,
          greedy ? undefined : (n) => (n <= kUsed ? q[n - 1]! : null),
        );
        const path = verdict.path;
        accepted = path.length;
        onChain = 0;
        while (onChain < Math.min(accepted, kUsed) && path[onChain] === onChain + 1) onChain++;
        tokens = verdict.tokens;
        next = verdict.nextToken;
        verified = ids.length;
        offered = t.maxDepth;
        if (chain) target.rewind(p0 + 1 + accepted);
        else target.keep([p0, ...path.map((n) => p0 + n)]);
      } else {
        const ids = [pending, ...drafts];
        const out = await rec.target(() => target.forward(ids, chainPositions(p0, ids.length)));
        if (greedy) {
          accepted = 0;
          while (accepted < kUsed && argmax(row(out.logits, v, accepted)) === drafts[accepted]) {
            accepted++;
          }
          next = argmax(row(out.logits, v, accepted));
        } else {
          const p: Float64Array[] = [];
          for (let i = 0; i <= kUsed; i++) p.push(this.processor.probs(row(out.logits, v, i)));
          const verdict = acceptChain(p, q, drafts, run.prng);
          accepted = verdict.accepted;
          next = verdict.token;
        }
        onChain = accepted;
        tokens = drafts.slice(0, accepted);
        verified = ids.length;
        target.rewind(p0 + 1 + accepted);
      }
      rec.step(offered, accepted, verified);

      // 3. keep what the draft has seen of the accepted path; the rest is its backlog
      if (kUsed === 0) {
        draftBacklog = [...draftBacklog, ...tokens, next];
      } else {
        // the draft saw pending..d_{K-1} at slots p0..p0+K-1 (d_K never went in)
        const seen = Math.min(onChain, kUsed - 1);
        if (seen < kUsed - 1) draft.rewind(p0 + 1 + seen);
        draftBacklog = [...tokens.slice(seen), next];
      }
      pending = next;
      if (this.lookup.tokens > 0) context.push(...tokens, next);
      yield [...tokens, next];

      // 4. schedule
      if (this.schedule === "heuristic" && kUsed > 0) {
        k = onChain === kUsed
          ? Math.min(this.maxSpeculativeTokens, k + 2)
          : Math.max(this.minSpeculativeTokens, k - 1);
      }
    }
  }

  /** Softmax probability of the argmax of a logits row. */
  #topProb(r: Float32Array): number {
    let max = -Infinity;
    for (let i = 0; i < r.length; i++) if (r[i]! > max) max = r[i]!;
    let sum = 0;
    for (let i = 0; i < r.length; i++) sum += Math.exp(r[i]! - max);
    return 1 / sum;
  }
}
