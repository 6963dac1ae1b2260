/**
 * Accumulates {@linkcode DecodeMetrics} during one call.
 *
 * @module
 */

import type { DecodeMetrics } from "./decode_metrics.ts";

/** Mutable counters and timers of one generation call (used by decoders, read via `finish`). */
export class MetricsRecorder {
  /** Prompt length in tokens. */
  readonly promptTokens: number;
  /** `performance.now()` at the start of the call. */
  readonly start: number = performance.now();
  /** `performance.now()` when the first token was yielded, `-1` before. */
  firstTokenAt: number = -1;
  /** Verification steps. */
  steps: number = 0;
  /** Target forwards, prefill included. */
  targetForwards: number = 0;
  /** Draft forwards or head calls, prefill included. */
  draftForwards: number = 0;
  /** Drafted positions offered. */
  drafted: number = 0;
  /** Drafts accepted. */
  accepted: number = 0;
  /** Tokens fed to the target in verification steps. */
  verifiedTokens: number = 0;
  /** Steps that offered a draft at each position. */
  draftedPerPosition: number[] = [];
  /** Steps that accepted a draft at each position. */
  acceptedPerPosition: number[] = [];
  /** Steps by number of accepted drafts. */
  acceptedLengthHistogram: number[] = [];
  /** Time in prefills, ms. */
  prefillMs: number = 0;
  /** Time in target verification forwards, ms. */
  targetStepTotalMs: number = 0;
  /** Time in draft forwards / head calls after the prefill, ms. */
  draftStepTotalMs: number = 0;
  /** Draft forwards / head calls after the prefill. */
  draftSteps: number = 0;
  /** True when the decoder has a draft (model or heads) whose c is meaningful. */
  hasDraft: boolean = false;

  /**
   * Starts the clock.
   *
   * @param promptTokens Prompt length in tokens.
   */
  constructor(promptTokens: number) {
    this.promptTokens = promptTokens;
  }

  /**
   * Times a prefill (target or draft).
   *
   * @typeParam T The forward's result.
   * @param fn The prefill.
   * @param draft True for the draft model's prefill.
   * @returns What `fn` returned.
   */
  async prefill<T>(fn: () => Promise<T>, draft: boolean = false): Promise<T> {
    const t0 = performance.now();
    const r = await fn();
    this.prefillMs += performance.now() - t0;
    if (draft) this.draftForwards++;
    else this.targetForwards++;
    return r;
  }

  /**
   * Times one target verification forward.
   *
   * @typeParam T The forward's result.
   * @param fn The forward.
   * @returns What `fn` returned.
   */
  async target<T>(fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const r = await fn();
    this.targetStepTotalMs += performance.now() - t0;
    this.targetForwards++;
    return r;
  }

  /**
   * Times one draft forward or head call.
   *
   * @typeParam T The forward's result.
   * @param fn The forward.
   * @returns What `fn` returned.
   */
  async draft<T>(fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const r = await fn();
    this.draftStepTotalMs += performance.now() - t0;
    this.draftForwards++;
    this.draftSteps++;
    return r;
  }

  /**
   * Records one verification step.
   *
   * @param offered Drafted positions offered (chain length or tree depth).
   * @param accepted Drafts accepted, `<= offered`.
   * @param verified Tokens fed to the target this step.
   */
  step(offered: number, accepted: number, verified: number): void {
    this.steps++;
    this.drafted += offered;
    this.accepted += accepted;
    this.verifiedTokens += verified;
    for (let i = 0; i < offered; i++) {
      this.draftedPerPosition[i] = (this.draftedPerPosition[i] ?? 0) + 1;
      if (i < accepted) this.acceptedPerPosition[i] = (this.acceptedPerPosition[i] ?? 0) + 1;
    }
    for (let i = this.acceptedPerPosition.length; i < this.draftedPerPosition.length; i++) {
      this.acceptedPerPosition[i] = 0;
    }
    for (let m = this.acceptedLengthHistogram.length; m <= accepted; m++) {
      this.acceptedLengthHistogram[m] = 0;
    }
    this.acceptedLengthHistogram[accepted]!++;
  }

  /** Marks the first new token. */
  firstToken(): void {
    if (this.firstTokenAt < 0) this.firstTokenAt = performance.now();
  }

  /**
   * Freezes the counters into a metrics object.
   *
   * @param newTokens Tokens returned to the caller.
   * @param baseline A measured baseline for `speedup`.
   * @returns The metrics.
   */
  finish(newTokens: number, baseline?: { tokensPerSecond: number }): DecodeMetrics {
    const wall = performance.now() - this.start;
    const ttft = this.firstTokenAt < 0 ? wall : this.firstTokenAt - this.start;
    const targetStepMs = this.steps > 0 ? this.targetStepTotalMs / this.steps : 0;
    const draftStepMs = this.draftSteps > 0 ? this.draftStepTotalMs / this.draftSteps : 0;
    const tps = wall > 0 ? newTokens / wall * 1000 : 0;
    const m: DecodeMetrics = {
      promptTokens: this.promptTokens,
      newTokens,
      steps: this.steps,
      targetForwards: this.targetForwards,
      draftForwards: this.draftForwards,
      drafted: this.drafted,
      accepted: this.accepted,
      verifiedTokens: this.verifiedTokens,
      acceptanceRate: this.drafted > 0 ? this.accepted / this.drafted : 0,
      meanAcceptedLength: this.steps > 0 ? (this.accepted + this.steps) / this.steps : 0,
      draftedPerPosition: [...this.draftedPerPosition],
      acceptedPerPosition: [...this.acceptedPerPosition],
      acceptedLengthHistogram: [...this.acceptedLengthHistogram],
      meanSpeculationLength: this.steps > 0 ? this.drafted / this.steps : 0,
      prefillMs: this.prefillMs,
      timeToFirstTokenMs: ttft,
      wallTimeMs: wall,
      tokensPerSecond: tps,
      decodeTokensPerSecond: newTokens > 1 && wall > ttft
        ? (newTokens - 1) / (wall - ttft) * 1000
        : 0,
      targetStepMs,
      draftStepMs,
      draftSteps: this.draftSteps,
    };
    if (this.hasDraft && targetStepMs > 0 && this.draftSteps > 0) m.c = draftStepMs / targetStepMs;
    if (baseline !== undefined && baseline.tokensPerSecond > 0) {
      m.speedup = tps / baseline.tokensPerSecond;
    }
    return m;
  }
}
