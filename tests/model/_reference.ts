/**
 * Loads reference fixtures in either layout: the random checkpoints'
 * `reference.json` (one case) and the model family's
 * `tests/fixtures/reference/<model>.json` (`cases`).
 *
 * @module
 */

/** One reference case from Hugging Face transformers (fp32). */
export interface ReferenceCase {
  /** Prompt token ids. */
  promptIds: number[];
  /** Full last-position logits, when stored. */
  lastLogits?: number[];
  /** Top-20 of the last position. */
  top20?: { ids: number[]; values: number[] };
  /** Greedy continuation. */
  greedy: number[];
}

/** A checkpoint with its reference cases. */
export interface Reference {
  /** Checkpoint directory. */
  dir: string;
  /** Cases. */
  cases: ReferenceCase[];
}

const ROOT = new URL("../../", import.meta.url).pathname;

/** The random checkpoints made by scripts/make_random_checkpoints.py. */
export const RANDOM_MODELS = [
  "llama",
  "llama-untied",
  "qwen2",
  "mistral",
  "gpt2",
  "llama-hd8",
  "llama3-rope",
];

/** Reads `tests/fixtures/random/<name>/reference.json`. */
export function randomReference(name: string): Reference {
  const dir = `${ROOT}tests/fixtures/random/${name}`;
  const r = JSON.parse(Deno.readTextFileSync(`${dir}/reference.json`));
  return { dir, cases: [{ promptIds: r.prompt_ids, lastLogits: r.last_logits, greedy: r.greedy }] };
}

/** Every `tests/fixtures/reference/*.json` whose model directory exists. */
export function committedReferences(): Reference[] {
  const out: Reference[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(`${ROOT}tests/fixtures/reference`)];
  } catch {
    return out;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.name.endsWith(".json")) continue;
    const r = JSON.parse(Deno.readTextFileSync(`${ROOT}tests/fixtures/reference/${e.name}`));
    const dir = `${ROOT}${r.model_dir ?? `models/${r.model}`}`;
    try {
      Deno.statSync(`${dir}/config.json`);
    } catch {
      continue;
    }
    out.push({
      dir,
      cases: (r.cases ?? []).map((c: Record<string, unknown>) => ({
        promptIds: c.prompt_ids as number[],
        ...(c.last_logits ? { lastLogits: c.last_logits as number[] } : {}),
        ...(c.last_logits_top20
          ? { top20: c.last_logits_top20 as { ids: number[]; values: number[] } }
          : {}),
        greedy: (c.greedy_ids ?? c.greedy) as number[],
      })),
    });
  }
  return out;
}

/** Index of the largest value in row `row` of a `[rows, n]` matrix. */
export function argmaxRow(m: Float32Array, row: number, n: number): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = m[row * n + i]!;
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}
