/**
 * `selectPrompts`: the benchmark's prompts from the fixtures (the first code
 * prompts and prose prompts, built-in prose when the fixtures have none).
 *
 * @module
 */

import type { RawPrompt } from "./read_prompt_fixtures.ts";

/** Prose prompts used only when the fixtures have none (named in the report as built-in). */
const FALLBACK_PROSE = [
  "The history of the printing press begins",
  "Once upon a time, in a small village by the sea,",
];

/**
 * Picks the prompts of a run: 8 code and 3 prose prompts (quick: 2 and 1).
 *
 * @param raw Every prompt of the fixture file.
 * @param quick A `--quick` run.
 * @returns Code prompts first, then prose.
 */
export function selectPrompts(raw: RawPrompt[], quick: boolean): RawPrompt[] {
  const codeN = quick ? 2 : 8;
  const proseN = quick ? 1 : 3;
  let prose = raw.filter((p) => p.kind === "prose").slice(0, proseN);
  if (prose.length === 0) {
    prose = FALLBACK_PROSE.slice(0, proseN).map((text, i) => ({
      id: `prose-builtin-${i}`,
      kind: "prose",
      text,
    }));
  }
  return [...raw.filter((p) => p.kind === "code").slice(0, codeN), ...prose];
}
