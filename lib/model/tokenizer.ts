/**
 * `tokenizer.json` (and `tokenizer_config.json`) through npm
 * `@huggingface/tokenizers`, behind the {@linkcode TextTokenizer} surface.
 *
 * @module
 */

import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import type { TextTokenizer } from "./language_model.ts";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";

/** Options of {@linkcode Tokenizer.load}. */
export interface TokenizerOptions {
  /** The model's vocabulary size: loading fails when the tokenizer has more ids. */
  modelVocabSize?: number;
  /** End-of-sequence ids from config.json, used when tokenizer_config.json names none. */
  eosTokenId?: number;
  /** Beginning-of-sequence id from config.json, used when tokenizer_config.json names none. */
  bosTokenId?: number;
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (
    typeof v === "object" && v !== null && typeof (v as { content?: unknown }).content === "string"
  ) {
    return (v as { content: string }).content;
  }
  return undefined;
}

async function readJson(
  path: string,
  required: boolean,
): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    if (!required && cause instanceof Deno.errors.NotFound) return undefined;
    throw new SpecDecError(`Cannot read ${path}: ${(cause as Error).message}`, StatusCode.IO, {
      cause,
    });
  }
  try {
    const json = JSON.parse(text);
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      throw new Error("not an object");
    }
    return json as Record<string, unknown>;
  } catch (cause) {
    throw new SpecDecError(
      `Malformed JSON in ${path}: ${(cause as Error).message}`,
      StatusCode.IO,
      { cause },
    );
  }
}

/**
 * A Hugging Face tokenizer.
 *
 * @example Encoding and decoding
 * ```ts ignore
 * import { Tokenizer } from "./tokenizer.ts";
 * const tok = await Tokenizer.load("models/tiny-target", { modelVocabSize: 4096 });
 * const ids = tok.encode("Once upon a time");
 * console.log(tok.decode(ids));
 * ```
 */
export class Tokenizer implements TextTokenizer {
  /** Size of the vocabulary: one more than the largest id (added tokens included). */
  readonly vocabSize: number;
  /** End-of-sequence id, or `undefined`. */
  readonly eosTokenId: number | undefined;
  /** Beginning-of-sequence id, or `undefined`. */
  readonly bosTokenId: number | undefined;
  #tok: HfTokenizer;

  private constructor(tok: HfTokenizer, bos: number | undefined, eos: number | undefined) {
    this.#tok = tok;
    let max = -1;
    for (const id of tok.get_vocab(true).values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    this.bosTokenId = bos;
    this.eosTokenId = eos;
  }

  /**
   * Reads `<dir>/tokenizer.json` and, when present, `<dir>/tokenizer_config.json`.
   *
   * @param dir Checkpoint directory.
   * @param options Vocabulary check and fallback special ids.
   * @returns The tokenizer.
   * @throws {SpecDecError} When a file is missing or malformed, or the vocabulary is larger than the model's (both sizes named).
   */
  static async load(dir: string, options: TokenizerOptions = {}): Promise<Tokenizer> {
    const path = `${dir}/tokenizer.json`;
    const json = (await readJson(path, true))!;
    const config = (await readJson(`${dir}/tokenizer_config.json`, false)) ?? {};
    let tok: HfTokenizer;
    try {
      tok = new HfTokenizer(json, config);
    } catch (cause) {
      throw new SpecDecError(
        `Invalid tokenizer ${path}: ${(cause as Error).message}`,
        StatusCode.IO,
        {
          cause,
        },
      );
    }
    const idOf = (key: string): number | undefined => {
      const content = tokenContent(config[key]);
      return content === undefined ? undefined : tok.token_to_id(content);
    };
    const t = new Tokenizer(
      tok,
      idOf("bos_token") ?? options.bosTokenId,
      idOf("eos_token") ?? options.eosTokenId,
    );
    if (options.modelVocabSize !== undefined && t.vocabSize > options.modelVocabSize) {
      throw new SpecDecError(
        `Tokenizer ${path} has ${t.vocabSize} ids but the model has only ${options.modelVocabSize} logits`,
        StatusCode.INVALID_ARGUMENT,
      );
    }
    return t;
  }

  /**
   * Encodes text to token ids.
   *
   * @param text Text to encode.
   * @returns Token ids (no special tokens added).
   */
  encode(text: string): number[] {
    if (typeof text !== "string") throw new TypeError("text must be a string");
    return this.#tok.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * Decodes token ids to text.
   *
   * @param ids Token ids.
   * @returns The text (special tokens skipped).
   */
  decode(ids: ArrayLike<number>): string {
    return this.#tok.decode(Array.from(ids), { skip_special_tokens: true });
  }
}
