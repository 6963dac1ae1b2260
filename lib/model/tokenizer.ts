/**
 * `tokenizer.json` (and `tokenizer_config.json`) through npm
 * `@huggingface/tokenizers`, behind the {@linkcode TextTokenizer} surface.
 *
 * @module
 */

import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import type { TextTokenizer } from "./language_model.ts";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";
import { type ChatMessage, type ChatRenderOptions, ChatTemplate } from "./chat_template.ts";
import { readGenerationConfig } from "./generation_config.ts";
import { resolveModelPath } from "./hub/resolve_model.ts";

/** Options of {@linkcode Tokenizer.load}. */
export interface TokenizerOptions {
  /** The model's vocabulary size: loading fails when the tokenizer has more ids. */
  modelVocabSize?: number;
  /** End-of-sequence ids from config.json, used when tokenizer_config.json names none. */
  eosTokenId?: number;
  /** Beginning-of-sequence id from config.json, used when tokenizer_config.json names none. */
  bosTokenId?: number;
  /** Prepend BOS to text prompts: overrides what the tokenizer's post-processor does. */
  addBosToken?: boolean;
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
 * ```ts
 * import { Tokenizer } from "@specdec/specdec";
 * const tok = await Tokenizer.load("models/tiny-target", { modelVocabSize: 4096 });
 * const ids = tok.encode("def add(a, b):");
 * if (tok.decode(ids) !== "def add(a, b):") throw new Error("unexpected");
 * ```
 */
export class Tokenizer implements TextTokenizer {
  /** Size of the vocabulary: one more than the largest id (added tokens included). */
  readonly vocabSize: number;
  /** End-of-sequence id, or `undefined`. */
  readonly eosTokenId: number | undefined;
  /** Beginning-of-sequence id, or `undefined`. */
  readonly bosTokenId: number | undefined;
  /**
   * Every id that ends generation, as transformers stops: `generation_config.json`'s
   * `eos_token_id` list (else `config.json`'s), plus the tokenizer's `eos_token`.
   */
  readonly eosTokenIds: readonly number[];
  /**
   * Whether text prompts start with BOS, as `tokenizer(text).input_ids` does in transformers
   * 5: the post-processor adds it (Llama 3's `TemplateProcessing`; transformers follows it even
   * where `add_bos_token` disagrees); `TokenizerOptions.addBosToken` overrides.
   */
  readonly addBosToken: boolean;
  /** The chat template (`tokenizer_config.json` `chat_template` or `chat_template.jinja`). */
  readonly chatTemplate: ChatTemplate | undefined;
  #tok: HfTokenizer;

  /** @ignore */
  private constructor(
    tok: HfTokenizer,
    ids: { bos: number | undefined; eos: number | undefined; eosList: number[]; addBos: boolean },
    chatTemplate: ChatTemplate | undefined,
  ) {
    this.#tok = tok;
    let max = -1;
    for (const id of tok.get_vocab(true).values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    this.bosTokenId = ids.bos;
    this.eosTokenId = ids.eos;
    this.eosTokenIds = ids.eosList;
    this.addBosToken = ids.addBos && ids.bos !== undefined;
    this.chatTemplate = chatTemplate;
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
    dir = await resolveModelPath(dir, "tokenizer"); // a folder, or a hub id fetched into the HF cache
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
    const gen = await readGenerationConfig(dir);
    const bos = idOf("bos_token") ?? options.bosTokenId ?? gen.bosTokenId;
    const eos = idOf("eos_token") ?? options.eosTokenId ?? gen.eosTokenIds[0];
    const eosList = [...gen.eosTokenIds];
    if (eos !== undefined && !eosList.includes(eos)) eosList.push(eos);
    let addBos: boolean;
    if (options.addBosToken !== undefined) addBos = options.addBosToken;
    else {
      // What the post-processor does to a probe. transformers (5.x) runs the same tokenizer.json
      // and follows its post-processor, also where tokenizer_config.json's add_bos_token
      // disagrees (tests/fixtures/hf/llama2-bos, llama2-nobos); consistent files agree anyway.
      const plain = tok.encode("a", { add_special_tokens: false }).ids;
      const full = tok.encode("a", { add_special_tokens: true }).ids;
      addBos = bos !== undefined && full[0] === bos && plain[0] !== bos;
    }
    const specials: Record<string, string> = {};
    for (const key of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
      const content = tokenContent(config[key]);
      if (content !== undefined) specials[key] = content;
    }
    const source = await readChatTemplate(dir, config);
    const chat = source === undefined
      ? undefined
      : new ChatTemplate(source.text, specials, source.origin);
    const t = new Tokenizer(tok, { bos, eos, eosList, addBos }, chat);
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
   * Encodes a text prompt as transformers' `tokenizer(text).input_ids`: BOS first when
   * {@linkcode Tokenizer.addBosToken} (or `addBosToken`) says so.
   *
   * @param text Prompt text.
   * @param addBosToken Override of {@linkcode Tokenizer.addBosToken}.
   * @returns Token ids.
   */
  encodePrompt(text: string, addBosToken?: boolean): number[] {
    const ids = this.encode(text);
    const add = addBosToken ?? this.addBosToken;
    return add && this.bosTokenId !== undefined ? [this.bosTokenId, ...ids] : ids;
  }

  /**
   * Renders a conversation with the chat template and encodes it, as transformers'
   * `apply_chat_template(messages, add_generation_prompt=True)` (no special tokens are added
   * besides those the template writes).
   *
   * @param messages The conversation.
   * @param options `addGenerationPrompt` (default true).
   * @returns Token ids.
   * @throws {SpecDecError} When the checkpoint has no chat template (code `INVALID_ARGUMENT`).
   */
  encodeChat(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, options));
  }

  /**
   * Renders a conversation with the chat template to text.
   *
   * @param messages The conversation.
   * @param options `addGenerationPrompt` (default true).
   * @returns The prompt text.
   * @throws {SpecDecError} When the checkpoint has no chat template.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
    if (this.chatTemplate === undefined) {
      throw new SpecDecError(
        "This tokenizer has no chat template (tokenizer_config.json has no chat_template)",
        StatusCode.INVALID_ARGUMENT,
      );
    }
    return this.chatTemplate.render(messages, options);
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

/** The template source: `chat_template.jinja` when present, else `tokenizer_config.json`'s. */
async function readChatTemplate(
  dir: string,
  config: Record<string, unknown>,
): Promise<{ text: string; origin: string } | undefined> {
  const file = `${dir}/chat_template.jinja`;
  try {
    return { text: await Deno.readTextFile(file), origin: file };
  } catch (cause) {
    if (!(cause instanceof Deno.errors.NotFound)) {
      throw new SpecDecError(`Cannot read ${file}: ${(cause as Error).message}`, StatusCode.IO, {
        cause,
      });
    }
  }
  const origin = `${dir}/tokenizer_config.json`;
  const t = config.chat_template;
  if (typeof t === "string") return { text: t, origin };
  if (Array.isArray(t)) {
    // [{ name, template }]: the "default" one, as transformers picks it.
    const named = t.find((x) => x && typeof x === "object" && x.name === "default");
    if (named && typeof named.template === "string") return { text: named.template, origin };
  }
  return undefined;
}
