/**
 * `speedupModelSection`: how the speedup model is defined, the measured
 * forwards it rests on (c, the autoregressive overhead, V(g)), and V(g) at
 * each weight precision.
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import type { BenchmarkResults } from "../results.ts";
import { costC, costV } from "../speedup_model.ts";
import { summarize } from "../summarize.ts";
import { precisionCostTable } from "./precision_cost.ts";

/**
 * The "Speedup model" section up to (not including) the sweeps.
 *
 * @param results The benchmark results.
 * @returns Markdown lines.
 */
export function speedupModelSection(results: BenchmarkResults): string[] {
  const f = formatNumber;
  const c = results.cost;
  const out: string[] = ["## Speedup model", ""];
  out.push(
    "S = E / (K·c + V): E = (1 - α^(K+1)) / (1 - α) expected tokens per target step from the per-token " +
      "acceptance α (for Medusa trees E is the measured τ), c = draft step time / target step time " +
      "(Medusa: heads time / target step; prompt lookup: 0), V = time of the verification forward / one-token " +
      "forward. Efficiency = measured speedup / predicted S; below 100% is time the model leaves out " +
      "(sampling, bookkeeping, FFI, cache compaction, prefill)." +
      (c.eagleStepMs !== undefined
        ? " EAGLE: c = head row time / target step, charged for the head forwards per step " +
          "measured in the runs (h), S = E / (h·c + V); E from α for chains, τ for trees."
        : "") +
      " Rows with a quantized drafter (`q8 draft`, `q8 heads`, `q8 head`) take c from their own " +
      "runs: the mean drafter call over the mean target step inside the decoding loop." +
      " Rows with a prompt-lookup branch (`+ lookup 8`: up to 8 tokens copied from an earlier " +
      "occurrence of the context's last n-gram join the step's draft as one more path) verify a " +
      "varying number of tokens per step: their V is at the runs' measured mean tokens per " +
      "verification forward (interpolated between the timed sizes) and their E is the measured τ.",
  );
  out.push("");
  out.push(
    `Measured forwards (fastest of the repetitions): target one-token step ${
      f.ms(c.targetStepMs)
    } ms, draft step ${f.ms(c.draftStepMs)} ms ` +
      `(c = ${f.fixed(costC(c), 3)})` +
      (c.headsStepMs !== undefined
        ? `, Medusa heads ${f.ms(c.headsStepMs)} ms (c = ${
          f.fixed(c.headsStepMs / c.targetStepMs, 3)
        })`
        : "") +
      (c.eagleStepMs !== undefined
        ? `, EAGLE head row ${f.ms(c.eagleStepMs)} ms (c = ${
          f.fixed(c.eagleStepMs / c.targetStepMs, 3)
        })`
        : "") +
      ".",
  );
  const ar = summarize(results, { method: "ar", temperature: 0, kind: "code" });
  if (ar !== undefined && ar.tokensPerSecond > 0) {
    const perToken = 1000 / ar.tokensPerSecond;
    out.push("");
    out.push(
      `Autoregressive decoding took ${f.ms(perToken)} ms per token against a ${
        f.ms(c.targetStepMs)
      } ms ` +
        `one-token forward: ${
          f.ms(perToken - c.targetStepMs)
        } ms per step is outside the forward ` +
        "(sampling over the vocabulary, FFI, bookkeeping, prefill, other load). A speculative step pays it once " +
        "for τ tokens and the model above leaves it out, so efficiencies above 100% mean the method amortized it.",
    );
  }
  out.push("");
  const sizes = Object.keys(c.verifyMs).map(Number).sort((a, b) => a - b);
  out.push(`| tokens per target forward | ${sizes.join(" | ")} |`);
  out.push(`|---|${sizes.map(() => "---:").join("|")}|`);
  out.push(`| ms | ${sizes.map((s) => f.ms(c.verifyMs[String(s)] ?? 0)).join(" | ")} |`);
  out.push(`| V (÷ 1-token forward) | ${sizes.map((s) => f.fixed(costV(c, s))).join(" | ")} |`);
  const byPrecision = precisionCostTable(results);
  if (byPrecision.length > 0) out.push("", ...byPrecision);
  return out;
}
