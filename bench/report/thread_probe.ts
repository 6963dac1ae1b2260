/**
 * `probeThreads`: tries ONNX Runtime thread settings on short greedy
 * generations before the benchmark and picks the fastest for one session
 * (autoregressive, prompt lookup) and for two alternating sessions
 * (draft-target, Medusa, EAGLE).
 *
 * @module
 */

import type { Decoder } from "../../mod.ts";
import { loadModelParts, type StageRunner } from "../../cli.ts";
import type { BenchModels } from "./bench_config.ts";
import { makeDecoder } from "./make_decoder.ts";
import type { RuntimeSetting, ThreadProbe } from "./results.ts";

/** The probe's outcome. */
export interface ThreadProbeResult {
  /** Fastest setting for autoregressive decoding (one session). */
  single: RuntimeSetting;
  /** Fastest setting for draft-target decoding (two sessions alternating). */
  dual: RuntimeSetting;
  /** Every setting tried, with its throughputs. */
  probe: ThreadProbe[];
}

/** What the probe loads and generates. */
export interface ThreadProbeOptions {
  /** Target checkpoint folder. */
  target: string;
  /** Draft checkpoint folder. */
  draft: string;
  /** Prompt text. */
  text: string;
  /** Draft-target K of the probe's speculative generations. */
  k: number;
  /** Tokens per generation. */
  maxNewTokens: number;
}

/**
 * Throughput of autoregressive and draft-target (constant K) decoding of one
 * prompt, fastest of two greedy generations each after a short warm-up.
 */
async function probeSpeed(
  models: BenchModels,
  prompt: number[],
  k: number,
  maxNewTokens: number,
  withAr: boolean,
): Promise<{ ar: number | undefined; speculative: number }> {
  const speed = async (d: Decoder): Promise<number> => {
    await d.generate(prompt, { maxNewTokens: 4 });
    let best = 0;
    for (let i = 0; i < 2; i++) {
      best = Math.max(best, (await d.generate(prompt)).metrics.tokensPerSecond);
    }
    return best;
  };
  const ar = withAr
    ? await speed(
      makeDecoder(models, { method: "ar", temperature: 0, kinds: [] }, maxNewTokens, 0),
    )
    : undefined;
  const speculative = await speed(
    makeDecoder(models, { method: "speculative", k, temperature: 0, kinds: [] }, maxNewTokens, 0),
  );
  return { ar, speculative };
}

/** The runtime setting of a probe entry, its measurements left out. */
function settingOf(p: RuntimeSetting): RuntimeSetting {
  return {
    threads: p.threads,
    spinning: p.spinning,
    ...(p.draftThreads !== undefined ? { draftThreads: p.draftThreads } : {}),
  };
}

/**
 * Tries 1 thread, all cores with spinning, all cores without, and (for
 * draft-target only: autoregressive decoding runs no draft) all cores for the
 * target with 1 thread for the draft, with and without spinning, on short
 * greedy generations (f32 weights).
 *
 * @param options Checkpoints, prompt, K and length.
 * @param stage Progress wrapper of each setting's measurement.
 * @returns The fastest setting for one session and for two, and every measurement.
 */
export async function probeThreads(
  options: ThreadProbeOptions,
  stage: StageRunner,
): Promise<ThreadProbeResult> {
  const cores = navigator.hardwareConcurrency;
  const settings: RuntimeSetting[] = cores > 1
    ? [
      { threads: 1, spinning: false },
      { threads: cores, spinning: true },
      { threads: cores, spinning: false },
      { threads: cores, spinning: false, draftThreads: 1 },
      // A 1-thread draft has no thread pool, so only the target's workers spin: they keep the
      // other core while the draft runs on the calling thread.
      { threads: cores, spinning: true, draftThreads: 1 },
    ]
    : [{ threads: 1, spinning: false }];
  // Two rounds over every setting, each setting's fastest kept: one transient slowdown (a
  // process finishing beside the run) must not pick a slow setting for the whole report (a run
  // of 2026-11-30 probed 2 spinning threads at 181 tok/s once and ran autoregressive decoding
  // without spinning, 40% slower than it runs).
  const merged: ThreadProbe[] = []; // [setting]: its fastest round
  for (let round = 0; round < PROBE_ROUNDS; round++) {
    for (let i = 0; i < settings.length; i++) {
      const p = await probeOne(settings[i]!, round);
      const prev = merged[i];
      merged[i] = prev === undefined ? p : {
        ...p,
        ...(p.arTokensPerSecond !== undefined
          ? { arTokensPerSecond: Math.max(p.arTokensPerSecond, prev.arTokensPerSecond ?? 0) }
          : {}),
        speculativeTokensPerSecond: Math.max(
          p.speculativeTokensPerSecond,
          prev.speculativeTokensPerSecond,
        ),
      };
    }
  }
  const single = merged.filter((p) => p.arTokensPerSecond !== undefined)
    .reduce((a, b) => (b.arTokensPerSecond! > a.arTokensPerSecond! ? b : a));
  const dual = merged.reduce((a, b) =>
    b.speculativeTokensPerSecond > a.speculativeTokensPerSecond ? b : a
  );
  return { single: settingOf(single), dual: settingOf(dual), probe: merged };

  async function probeOne(setting: RuntimeSetting, round: number): Promise<ThreadProbe> {
    const quiet = <T>(_label: string, work: () => Promise<T>): Promise<T> => work();
    const draftOnly = setting.draftThreads !== undefined;
    const label = `probing ${setting.threads} thread(s)${
      draftOnly ? ` (draft ${setting.draftThreads})` : ""
    }, spinning ${setting.spinning ? "on" : "off"} (round ${round + 1})`;
    const speeds = await stage(label, async () => {
      const parts = await loadModelParts({
        model: options.target,
        draft: options.draft,
        ...setting,
        draftWeights: "f32", // the f32 draft, not the CLI's measured drafter precision
      }, quiet);
      try {
        const ids = parts.tokenizer.encode(options.text);
        const models = { target: parts.target, draft: parts.draft!, tokenizer: parts.tokenizer };
        return await probeSpeed(models, ids, options.k, options.maxNewTokens, !draftOnly);
      } finally {
        parts.close?.();
      }
    });
    return {
      ...setting,
      ...(speeds.ar !== undefined ? { arTokensPerSecond: speeds.ar } : {}),
      speculativeTokensPerSecond: speeds.speculative,
    };
  }
}

/** Passes over the settings; each setting's fastest pass counts. */
const PROBE_ROUNDS = 2;
