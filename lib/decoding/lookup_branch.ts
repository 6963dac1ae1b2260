/**
 * The prompt-lookup branch of a drafting decoder: the tokens that followed an
 * earlier occurrence of the context's last n-gram (as
 * {@linkcode PromptLookupDecoder} drafts them), added to a step's draft as one
 * more candidate path and verified in the same target forward.
 *
 * @module
 */

import { lookupDraft, MAX_LOOKUP_TOKENS } from "./prompt_lookup.ts";
import { checkInt } from "./_util.ts";

/**
 * The prompt-lookup branch settings shared by the draft-target, Medusa and EAGLE decoders.
 *
 * The branch costs no draft forward, only its verified tokens; it pays when the output repeats
 * its context, as code does. It never changes the output: greedy verification keeps the
 * target's argmax chain, and when sampling the copied tokens are a deterministic function of
 * the context, verified as point masses (recursive rejection stays exact for any residual,
 * whether or not a deterministic sibling is tried).
 *
 * Greedy draft-target and EAGLE decoding also let the copy steer their drafter: a copy that
 * starts with the drafter's own next token is the step's draft (draft-target: as far as the
 * draft agrees with it, found in one draft forward), and a copy that does not is left out.
 * Draft-target verifies a copy that leaves its draft's chain only in the rows the chain left
 * unused, so a step never verifies more rows than a full chain of K drafts; a copy that extends
 * the chain is verified whole.
 */
export interface LookupBranchConfig {
  /**
   * Most tokens the branch copies per step, `0..64`; default 0 (no branch). A chain draft with
   * a branch that leaves it becomes a two-branch tree (one target forward with a tree mask), so
   * the target must take tree masks (`CausalLM` does; `OnnxDecoder`, chains only, refuses them).
   */
  lookupTokens?: number;
  /** Longest n-gram matched first, `lookupMinNgram..64`; default 3. */
  lookupMaxNgram?: number;
  /** Shortest n-gram matched, `1..64`; default 2 (a single-token match is a weak draft). */
  lookupMinNgram?: number;
}

/** A validated {@linkcode LookupBranchConfig}. */
export interface LookupBranch {
  /** Most copied tokens per step (0: off). */
  tokens: number;
  /** Longest n-gram. */
  maxNgram: number;
  /** Shortest n-gram. */
  minNgram: number;
}

/**
 * Validates the branch settings of a decoder config.
 *
 * @param config The decoder's config.
 * @returns The settings, defaults filled in.
 * @throws {RangeError} When a setting is out of range (named).
 */
export function resolveLookupBranch(config: LookupBranchConfig): LookupBranch {
  const tokens = config.lookupTokens === undefined
    ? 0
    : checkInt("lookupTokens", config.lookupTokens, 0, MAX_LOOKUP_TOKENS);
  const minNgram = config.lookupMinNgram === undefined
    ? 2
    : checkInt("lookupMinNgram", config.lookupMinNgram, 1, MAX_LOOKUP_TOKENS);
  const maxNgram = config.lookupMaxNgram === undefined
    ? Math.max(3, minNgram)
    : checkInt("lookupMaxNgram", config.lookupMaxNgram, minNgram, MAX_LOOKUP_TOKENS);
  return { tokens, maxNgram, minNgram };
}

/**
 * The lookup candidate for `context`: the tokens that followed the most recent earlier
 * occurrence of its last n-gram, longest n-gram first.
 *
 * @param context Prompt and every accepted token, the root's token last.
 * @param branch The settings.
 * @param room Most tokens the candidate may have (what the KV caches and the length limit allow).
 * @returns The candidate path (empty when off, out of room or unmatched).
 */
export function lookupBranchDraft(
  context: readonly number[],
  branch: LookupBranch,
  room: number,
): number[] {
  const k = Math.min(branch.tokens, room);
  return k < 1 ? [] : lookupDraft(context, k, branch.maxNgram, branch.minNgram);
}
