/**
 * `compareGreedy`: prompt-by-prompt equality of two engines' greedy tokens.
 *
 * @module
 */

import type { PeerRun, RunRecord } from "./results.ts";

/** Result of comparing greedy token ids of two engines prompt by prompt. */
export interface GreedyComparison {
  /** Prompts compared. */
  compared: number;
  /** Prompts with identical ids. */
  identical: number;
  /** Prompt ids that differ, with the first differing index. */
  differences: { promptId: string; at: number }[];
}

/**
 * Compares greedy token ids of our runs with a peer method's, prompt by prompt.
 * Sequences of different length compare on their common prefix when one
 * stopped early at the token budget; a length difference otherwise counts.
 */
export function compareGreedy(
  ours: RunRecord[],
  theirs: Pick<PeerRun, "promptId" | "tokens">[],
): GreedyComparison {
  const out: GreedyComparison = { compared: 0, identical: 0, differences: [] };
  for (const p of theirs) {
    const o = ours.find((r) => r.promptId === p.promptId);
    if (o === undefined) continue;
    out.compared++;
    const n = Math.min(o.tokens.length, p.tokens.length);
    let at = -1;
    for (let i = 0; i < n; i++) {
      if (o.tokens[i] !== p.tokens[i]) {
        at = i;
        break;
      }
    }
    if (at < 0 && o.tokens.length !== p.tokens.length) at = n;
    if (at < 0) out.identical++;
    else out.differences.push({ promptId: p.promptId, at });
  }
  return out;
}
