/**
 * `runPeers`: Hugging Face transformers on the same checkpoints and prompt
 * ids (`bench/peers/hf_generate.py` in the project's `.venv`), for the peer
 * comparison.
 *
 * @module
 */

import { ProgressBar } from "../../cli.ts";
import type { BenchPrompt } from "./bench_config.ts";
import { ROOT } from "./options.ts";
import type { PeerResults } from "./results.ts";

/** What the peer runs on. */
export interface PeerOptions {
  /** False: skipped (`--no-peers`). */
  enabled: boolean;
  /** A `--quick` run (two prompts). */
  quick: boolean;
  /** Target checkpoint folder. */
  target: string;
  /** Draft checkpoint folder. */
  draft: string;
  /** New tokens per generation. */
  maxNewTokens: number;
  /** `num_assistant_tokens` (draft-target's best K). */
  k: number;
  /** `prompt_lookup_num_tokens` (prompt lookup's best K). */
  lookupK: number;
  /** Torch intra-op threads. */
  threads: number;
  /** Generations per prompt, the fastest kept. */
  repeats: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs transformers' `generate()`, assisted generation and prompt lookup on
 * the first code prompts (4; quick: 2).
 *
 * @param options Checkpoints, K, threads, repeats.
 * @param prompts The benchmark's prompts (token ids).
 * @param stderr Where notices and the progress bar go.
 * @returns The peer runs, or why there are none.
 */
export async function runPeers(
  options: PeerOptions,
  prompts: BenchPrompt[],
  stderr: (s: string) => Promise<void>,
): Promise<PeerResults> {
  const python = `${ROOT}/.venv/bin/python`;
  if (!options.enabled) return { status: "skipped", reason: "--no-peers", runs: [] };
  if (!(await exists(python))) {
    await stderr("notice: .venv/bin/python not found; skipping the transformers comparison\n");
    return { status: "skipped", reason: ".venv/bin/python not found", runs: [] };
  }
  const file = await Deno.makeTempFile({ prefix: "specdec_prompts_", suffix: ".json" });
  try {
    // The first code prompts only: transformers is slow enough to dominate the run's time.
    const code = prompts.filter((p) => p.kind === "code").slice(0, options.quick ? 2 : 4);
    await Deno.writeTextFile(
      file,
      JSON.stringify(code.map((p) => ({ id: p.id, kind: p.kind, ids: p.ids }))),
    );
    const bar = new ProgressBar("transformers peer runs", {
      write: stderr,
      isTerminal: Deno.stderr.isTerminal(),
    });
    const args = [
      `${ROOT}/bench/peers/hf_generate.py`,
      ...["--target", options.target, "--draft", options.draft, "--prompts", file],
      ...["--max-new-tokens", String(options.maxNewTokens)],
      ...["--k", String(options.k), "--lookup-k", String(options.lookupK)],
      ...["--threads", String(options.threads), "--repeats", String(options.repeats)],
    ];
    const out = await bar.wrap(() =>
      new Deno.Command(python, { args, stdout: "piped", stderr: "piped" }).output()
    );
    if (!out.success) {
      const tail = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
      return {
        status: "failed",
        reason: `hf_generate.py exited with ${out.code}: ${tail}`,
        runs: [],
      };
    }
    const parsed = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      engine: string;
      threads: number;
      runs: PeerResults["runs"];
    };
    return { status: "ok", engine: parsed.engine, threads: parsed.threads, runs: parsed.runs };
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}
