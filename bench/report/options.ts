/**
 * `parseReportOptions`: the command line of `deno task bench:report`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { OPTIONAL_SECTIONS } from "./optional_sections.ts";
import type { Precision } from "./results.ts";

/** The repository root (two folders above this file). */
export const ROOT: string = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** Every weight precision the report can measure, in report order. */
export const PRECISIONS: readonly Precision[] = ["f32", "q8", "q4"];

/** Ids of the optional sections a `--no-<id>` flag skips. */
const OPTIONAL_SECTION_IDS: readonly string[] = OPTIONAL_SECTIONS.map((s) => s.id);

/** Parsed options of the report. */
export interface ReportOptions {
  /** Fewer prompts, tokens and sweep points. */
  quick: boolean;
  /** Output folder (default `results`). */
  out: string;
  /** Target checkpoint folder. */
  target: string;
  /** Draft checkpoint folder. */
  draft: string;
  /** Medusa heads folder (default `<target>/medusa`; skipped when absent). */
  medusa: string;
  /** EAGLE head folder (default `<target>/eagle`; skipped when absent). */
  eagle: string;
  /** Fixed intra-op threads (no probe), or undefined to probe. */
  threads: number | undefined;
  /** New tokens per generation. */
  maxNewTokens: number;
  /** Run the transformers comparison. */
  peers: boolean;
  /** Rewrite REPORT.md and the charts from an existing results file. */
  renderOnly: boolean;
  /** Generations per (configuration, prompt), the fastest kept. */
  repeats: number;
  /** Precisions of the weight-precision section (f32 is always measured). */
  weights: Precision[];
  /** Optional sections skipped by `--no-<id>` (e.g. `real-scale`). */
  skipSections: string[];
}

/**
 * Parses the report's arguments.
 *
 * Options: `--quick`, `--out DIR`, `--target DIR`, `--draft DIR`, `--medusa
 * DIR`, `--eagle DIR`, `--threads N`, `--max-new-tokens N`, `--no-peers`,
 * `--repeats N`, `--weights f32,q8,q4`, `--render-only`, `--no-real-scale`.
 *
 * @param argv The arguments (without the script).
 * @returns The options with their defaults.
 * @throws {TypeError} For an unknown option (from `parseArgs`).
 * @throws {RangeError} For a bad number or precision.
 */
export function parseReportOptions(argv: string[]): ReportOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: "boolean" },
      out: { type: "string" },
      target: { type: "string" },
      draft: { type: "string" },
      medusa: { type: "string" },
      eagle: { type: "string" },
      threads: { type: "string" },
      "max-new-tokens": { type: "string" },
      "no-peers": { type: "boolean" },
      "render-only": { type: "boolean" },
      repeats: { type: "string" },
      weights: { type: "string" },
      ...Object.fromEntries(
        OPTIONAL_SECTION_IDS.map((id) => [`no-${id}`, { type: "boolean" as const }]),
      ),
    },
  });
  const int = (s: string | undefined, flag: string): number | undefined => {
    if (s === undefined) return undefined;
    const n = /^\d+$/.test(s) ? Number(s) : NaN;
    if (!(n >= 1)) throw new RangeError(`${flag} must be a positive integer, got '${s}'`);
    return n;
  };
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  const quick = values.quick === true;
  const target = str(values.target) ?? `${ROOT}/models/bench-target`;
  const weights = (str(values.weights) ?? PRECISIONS.join(",")).split(",").map((w) => w.trim());
  for (const w of weights) {
    if (!(PRECISIONS as readonly string[]).includes(w)) {
      throw new RangeError(`--weights must list ${PRECISIONS.join(", ")}, got '${w}'`);
    }
  }
  return {
    quick,
    out: str(values.out) ?? `${ROOT}/results`,
    target,
    draft: str(values.draft) ?? `${ROOT}/models/bench-draft`,
    medusa: str(values.medusa) ?? `${target}/medusa`,
    eagle: str(values.eagle) ?? `${target}/eagle`,
    threads: int(str(values.threads), "--threads"),
    maxNewTokens: int(str(values["max-new-tokens"]), "--max-new-tokens") ?? (quick ? 32 : 128),
    peers: values["no-peers"] !== true,
    renderOnly: values["render-only"] === true,
    repeats: int(str(values.repeats), "--repeats") ?? (quick ? 1 : 2),
    weights: PRECISIONS.filter((p) => p === "f32" || weights.includes(p)),
    skipSections: OPTIONAL_SECTION_IDS.filter((id) =>
      (values as Record<string, unknown>)[`no-${id}`] === true
    ),
  };
}
