/**
 * Measured metrics of one generation call.
 *
 * @module
 */

/**
 * Counts and timings of one call, all measured. A "step" is one verification
 * forward of the target after the prefill; it emits the accepted drafts plus
 * one token of the target's own (correction or bonus).
 */
export interface DecodeMetrics {
  /** Prompt length in tokens. */
  promptTokens: number;
  /** New tokens returned. */
  newTokens: number;
  /** Target verification forwards after the prefill. */
  steps: number;
  /** Target forwards including the prefill. */
  targetForwards: number;
  /** Draft-model forwards (prefill included) or prediction-head calls (Medusa). */
  draftForwards: number;
  /** Drafted positions offered for verification: chain length, or tree depth per step. */
  drafted: number;
  /** Drafted tokens accepted. */
  accepted: number;
  /** Tokens fed to the target in verification steps (tree nodes or chain tokens, root included). */
  verifiedTokens: number;
  /** `accepted / drafted` (0 when nothing was drafted). */
  acceptanceRate: number;
  /** τ: mean tokens emitted per target step, `(accepted + steps) / steps` (1 for autoregressive). */
  meanAcceptedLength: number;
  /** `draftedPerPosition[i]`: steps that offered a draft at position `i + 1`. */
  draftedPerPosition: number[];
  /** `acceptedPerPosition[i]`: steps that accepted a draft at position `i + 1`. */
  acceptedPerPosition: number[];
  /** `acceptedLengthHistogram[m]`: steps that accepted exactly `m` drafts. */
  acceptedLengthHistogram: number[];
  /** Mean number of drafted positions per step (the speculation length actually used). */
  meanSpeculationLength: number;
  /** Prompt processing time in ms (target and draft prefill). */
  prefillMs: number;
  /** Time to the first new token in ms. */
  timeToFirstTokenMs: number;
  /** Whole call in ms. */
  wallTimeMs: number;
  /** `newTokens / wallTimeMs * 1000`. */
  tokensPerSecond: number;
  /** Decode-phase throughput: `(newTokens - 1) / (wallTimeMs - timeToFirstTokenMs) * 1000`. */
  decodeTokensPerSecond: number;
  /** Mean time of one target verification forward in ms. */
  targetStepMs: number;
  /** Mean time of one draft forward (or head call) after the prefill in ms; 0 without a draft. */
  draftStepMs: number;
  /** Draft forwards (or head calls) after the prefill: the calls `draftStepMs` averages. */
  draftSteps: number;
  /** Measured c = draftStepMs / targetStepMs (draft-target and Medusa only). */
  c?: number;
  /** tokensPerSecond over the supplied baseline's, only when a baseline was given. */
  speedup?: number;
}
