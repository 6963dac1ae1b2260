/**
 * `OPTIONAL_SECTIONS`: report sections that measure on their own (their own
 * checkpoints and sessions) and plug into `main.ts` without touching it. Each
 * returns its markdown and its figures ({@linkcode SectionResult}); `main.ts`
 * runs them after the benchmark's own models are closed, stores them in
 * `benchmark_results.json` under `sections`, and `renderReport` writes their
 * markdown after the peer comparison. `--no-<id>` skips one.
 *
 * @module
 */

import type { StageRunner } from "../../cli.ts";
import type { RuntimeSetting, SectionResult } from "./results.ts";
import { realScaleMarkdown, runRealScale } from "../real_scale/real_scale_bench.ts";
import { qualityMarkdown, quantQuality } from "../quant_quality.ts";
import { runServerLoad, serverLoadMarkdown } from "../server_load.ts";

/** What an optional section is given. */
export interface SectionContext {
  /** A `--quick` run: keep the section short too. */
  quick: boolean;
  /** The repository root. */
  root: string;
  /** The output folder (`results`). */
  out: string;
  /** The thread setting the probe picked for one session (autoregressive). */
  runtime: RuntimeSetting;
  /** Progress wrapper for long steps. */
  stage: StageRunner;
  /** Notices (stderr). */
  stderr: (s: string) => Promise<void>;
}

/** An optional section of the report. */
export interface OptionalSection {
  /** Id: the `--no-<id>` flag and the `sections[].id` of the results file. */
  id: string;
  /** Heading used when the section fails or is not wired. */
  title: string;
  /**
   * Measures and writes the section; absent: not wired yet (skipped with a
   * notice).
   */
  run?: (context: SectionContext) => Promise<SectionResult>;
}

/**
 * The optional sections, in report order.
 *
 * To plug in a section, import its function and set `run`: it gets a
 * {@linkcode SectionContext} and returns `{ id, markdown, json }`. A section that throws becomes a "Not run: <message>." note in the report;
 * `--no-real-scale` skips it.
 */
export const OPTIONAL_SECTIONS: readonly OptionalSection[] = [
  {
    id: "real-scale",
    title: "Real scale (SmolLM2-135M shape)",
    run: async (ctx) => {
      const r = await ctx.stage(
        "real-scale probes (SmolLM2-135M shape, f32/q8/q4)",
        () => runRealScale({ quick: ctx.quick }),
      );
      return { id: "real-scale", markdown: realScaleMarkdown(r), json: r };
    },
  },
  {
    id: "quality",
    title: "Quality of quantized weights",
    run: async (ctx) => {
      const r = await ctx.stage(
        "held-out perplexity and agreement at f32/q8/q4",
        () => quantQuality(`${ctx.root}/models/bench-target`, ctx.quick ? 8 : 128),
      );
      return {
        id: "quality",
        markdown: `## Quality of quantized weights\n\n${qualityMarkdown(r)}`,
        json: r,
      };
    },
  },
  {
    id: "server-load",
    title: "Server under load",
    run: async (ctx) => {
      const r = await ctx.stage(
        "server under load (64 streaming clients)",
        () =>
          runServerLoad({
            clients: 64,
            durationS: ctx.quick ? 10 : 180,
            cancelProbability: 0.25,
            model: `${ctx.root}/models/bench-target`,
            draft: `${ctx.root}/models/bench-draft`,
            queueSize: 16,
            maxTokens: 48,
            seed: 1,
          }),
      );
      return { id: "server-load", markdown: serverLoadMarkdown(r), json: r };
    },
  },
];
