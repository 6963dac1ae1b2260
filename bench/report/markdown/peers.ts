/**
 * `peersSection`: specdec against Hugging Face transformers on the same
 * checkpoints and prompt ids, with greedy output equality; and
 * {@linkcode peerComparisons}, the figures the goals reuse.
 *
 * @module
 */

import { formatNumber } from "../../../mod.ts";
import { compareGreedy, type GreedyComparison } from "../compare_greedy.ts";
import { peerThroughput } from "../peer_throughput.ts";
import type { BenchmarkResults, RunFilter } from "../results.ts";
import { matches } from "../summarize.ts";

/** One method compared with its transformers counterpart. */
export interface PeerComparison {
  /** Row name, e.g. `Draft-target / assisted (K=3)`. */
  name: string;
  /** Our method. */
  method: "ar" | "speculative" | "lookup";
  /** K the peer ran with (speculative, lookup). */
  k?: number;
  /** transformers tokens/s. */
  theirs: number | undefined;
  /** Our tokens/s on the same prompts. */
  ours: number | undefined;
  /** Greedy tokens compared prompt by prompt. */
  greedy: GreedyComparison;
}

/**
 * Our runs against the peer's, method by method, on the prompts the peer ran.
 *
 * @param results The benchmark results (peers status ok).
 * @returns One comparison per peer method.
 */
export function peerComparisons(results: BenchmarkResults): PeerComparison[] {
  const p = results.peers;
  const out: PeerComparison[] = [];
  const k = p.runs.find((r) => r.method === "speculative")?.k ?? results.settings.headlineK;
  const lk = p.runs.find((r) => r.method === "lookup")?.k ?? results.settings.headlineK;
  const rows: [string, "ar" | "speculative" | "lookup", number | undefined][] = [
    ["Autoregressive", "ar", undefined],
    [`Draft-target / assisted (K=${k})`, "speculative", k],
    [`Prompt lookup (K=${lk})`, "lookup", lk],
  ];
  for (const [name, method, kk] of rows) {
    const filter: RunFilter = { method, temperature: 0, ...(kk !== undefined ? { k: kk } : {}) };
    const theirs = peerThroughput(p, method);
    const promptIds = new Set(p.runs.filter((r) => r.method === method).map((r) => r.promptId));
    const ourRuns = results.runs.filter((r) => matches(r, filter) && promptIds.has(r.promptId));
    const ourMs = ourRuns.reduce((s, r) => s + r.wallTimeMs, 0);
    const ours = ourMs > 0
      ? (1000 * ourRuns.reduce((s, r) => s + r.newTokens, 0)) / ourMs
      : undefined;
    const greedy = compareGreedy(ourRuns, p.runs.filter((r) => r.method === method));
    out.push({ name, method, ...(kk !== undefined ? { k: kk } : {}), theirs, ours, greedy });
  }
  return out;
}

/**
 * The peer comparison section.
 *
 * @param results The benchmark results.
 * @returns Markdown lines.
 */
export function peersSection(results: BenchmarkResults): string[] {
  const f = formatNumber;
  const p = results.peers;
  const out = [
    "## Peer comparison: Hugging Face transformers (same checkpoints, same prompt ids)",
    "",
  ];
  if (p.status !== "ok") {
    return [...out, `Not run: ${p.reason ?? p.status}.`];
  }
  out.push(
    `${p.engine ?? "transformers"} on the CPU (${
      p.threads ?? "?"
    } torch threads), greedy, the same token ids as input: ` +
      "`generate()` (autoregressive), assisted generation (`assistant_model=` the same draft, constant " +
      "`num_assistant_tokens`), prompt lookup (`prompt_lookup_num_tokens=`).",
  );
  out.push("");
  out.push(
    "| Method | transformers tok/s | specdec tok/s | specdec / transformers | Greedy outputs identical |",
  );
  out.push("|---|---:|---:|---:|---|");
  for (const { name, theirs, ours, greedy: cmp } of peerComparisons(results)) {
    const same = cmp.compared === 0
      ? "-"
      : cmp.identical === cmp.compared
      ? `yes (${cmp.identical}/${cmp.compared} prompts)`
      : `${cmp.identical}/${cmp.compared} prompts; first differences at ${
        cmp.differences.slice(0, 3).map((d) => `${d.promptId}@${d.at}`).join(", ")
      }`;
    out.push(
      `| ${name} | ${f.tokensPerSecond(theirs)} | ${f.tokensPerSecond(ours)} | ${
        theirs !== undefined && ours !== undefined ? f.ratio(ours / theirs) : "-"
      } | ${same} |`,
    );
  }
  return out;
}
