/**
 * The stop and start tokens of a checkpoint as Hugging Face transformers reads
 * them: `generation_config.json` first, then `config.json`.
 *
 * @module
 */

import { SpecDecError, StatusCode } from "../runtime/errors.ts";

/** What generation needs from `generation_config.json` / `config.json`. */
export interface GenerationConfig {
  /**
   * End-of-sequence ids: `generation_config.json`'s `eos_token_id` (a number or a list) when it
   * names any, else `config.json`'s (transformers' order). Empty when neither names one.
   */
  eosTokenIds: number[];
  /** Beginning-of-sequence id from the same files, when set. */
  bosTokenId: number | undefined;
}

/**
 * Normalises an `eos_token_id` value (a number, a list of numbers, or null).
 *
 * @param value The JSON value.
 * @returns The ids (non-negative integers only), without repeats.
 *
 * @example A list as Llama 3.x instruct models write it
 * ```ts
 * import { eosIds } from "@specdec/specdec";
 * if (eosIds([128001, 128008, 128009]).length !== 3) throw new Error();
 * if (eosIds(2)[0] !== 2 || eosIds(null).length !== 0) throw new Error();
 * ```
 */
export function eosIds(value: unknown): number[] {
  const list = Array.isArray(value) ? value : [value];
  const out: number[] = [];
  for (const v of list) {
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && !out.includes(v)) out.push(v);
  }
  return out;
}

async function readObject(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return undefined;
    throw new SpecDecError(`Cannot read ${path}: ${(cause as Error).message}`, StatusCode.IO, {
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SpecDecError(
      `Malformed JSON in ${path}: ${(cause as Error).message}`,
      StatusCode.IO,
      {
        cause,
      },
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new SpecDecError(`Malformed JSON in ${path}: expected an object`, StatusCode.IO);
  }
  return json as Record<string, unknown>;
}

/**
 * Reads the EOS and BOS ids of a checkpoint folder: `generation_config.json` when it sets
 * them, else `config.json` (both optional).
 *
 * @param dir Checkpoint directory.
 * @returns The ids (an empty EOS list when no file names one).
 * @throws {SpecDecError} When a file exists but is not a JSON object (the path is named).
 *
 * @example The bundled checkpoint
 * ```ts
 * import { readGenerationConfig } from "@specdec/specdec";
 * const g = await readGenerationConfig("models/tiny-target");
 * if (g.eosTokenIds.join() !== "1") throw new Error("unexpected");
 * ```
 */
export async function readGenerationConfig(dir: string): Promise<GenerationConfig> {
  if (typeof dir !== "string" || dir === "") throw new TypeError("dir must be a non-empty string");
  const gen = (await readObject(`${dir}/generation_config.json`)) ?? {};
  const cfg = (await readObject(`${dir}/config.json`)) ?? {};
  const genEos = eosIds(gen.eos_token_id);
  const bos = typeof gen.bos_token_id === "number"
    ? gen.bos_token_id
    : typeof cfg.bos_token_id === "number"
    ? cfg.bos_token_id
    : undefined;
  return {
    eosTokenIds: genEos.length > 0 ? genEos : eosIds(cfg.eos_token_id),
    bosTokenId: bos,
  };
}
