/**
 * The benchmark's prompt set, read from the fixtures (held-out code prompts
 * and prose prompts).
 *
 * @module
 */

import type { PromptKind } from "./results.ts";

/** A prompt of the fixture file. */
export interface RawPrompt {
  /** `id` from the file, else `source:line`, else kind-index. */
  id: string;
  /** Code (held-out split) or prose. */
  kind: PromptKind;
  /** Prompt text. */
  text: string;
}

/**
 * Reads a prompt fixture file (`tests/fixtures/prompts.json`): an array of
 * prompts, or an object of arrays keyed by kind; each prompt a string or an
 * object with `text` (or `prompt`) and optionally `id` and `kind`/`split`.
 *
 * @param path The JSON file.
 * @returns The prompts with their kind (prose when the kind says so, else code).
 */
export async function readPromptFixtures(path: string): Promise<RawPrompt[]> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "not found"
      : `unreadable (${(err as Error).message})`;
    throw new Error(`prompt fixtures ${path} ${why}`, { cause: err });
  }
  const out: RawPrompt[] = [];
  const visit = (item: unknown, kindHint: string | undefined, index: number): void => {
    if (typeof item === "string") {
      out.push({ id: `${kindHint ?? "p"}-${index}`, kind: kindOf(kindHint), text: item });
      return;
    }
    if (item === null || typeof item !== "object") return;
    const o = item as Record<string, unknown>;
    const text = o.text ?? o.prompt;
    if (typeof text !== "string" || text.length === 0) return;
    const hint = [o.kind, o.category, o.type, o.split, kindHint].find((x) =>
      typeof x === "string"
    ) as
      | string
      | undefined;
    out.push({
      id: typeof o.id === "string"
        ? o.id
        : typeof o.source === "string"
        ? `${o.source}${typeof o.line === "number" ? `:${o.line}` : ""}`
        : `${kindOf(hint)}-${index}`,
      kind: kindOf(hint),
      text,
    });
  };
  if (Array.isArray(json)) json.forEach((x, i) => visit(x, undefined, i));
  else if (json !== null && typeof json === "object") {
    for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
      if (Array.isArray(value)) value.forEach((x, i) => visit(x, key, i));
    }
  }
  // Ids must be unique (the report matches runs by prompt id): number repeats.
  const seen = new Map<string, number>();
  for (const p of out) {
    const n = seen.get(p.id) ?? 0;
    seen.set(p.id, n + 1);
    if (n > 0) p.id = `${p.id} #${n + 1}`;
  }
  if (out.length === 0) throw new Error(`${path}: no prompts found`);
  return out;
}

function kindOf(hint: string | undefined): PromptKind {
  return hint !== undefined && /prose|text|story|english|natural/i.test(hint) ? "prose" : "code";
}
