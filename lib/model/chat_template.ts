/**
 * A checkpoint's chat template (`tokenizer_config.json` `chat_template`, or
 * `chat_template.jinja`), rendered with npm `@huggingface/jinja` the way
 * transformers' `apply_chat_template` renders it.
 *
 * @module
 */

import { Template } from "@huggingface/jinja";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";

/** One chat message. */
export interface ChatMessage {
  /** `system`, `user`, `assistant` (or `tool`, when the template knows it). */
  role: string;
  /** The message text. */
  content: string;
}

/** Options of {@linkcode ChatTemplate.render}. */
export interface ChatRenderOptions {
  /** Append the opening of the assistant's turn (default true: the model answers next). */
  addGenerationPrompt?: boolean;
}

/**
 * Checks a list of chat messages, naming the first bad field.
 *
 * @param messages The candidate list.
 * @param name How the list is called in error messages.
 * @returns The messages, typed.
 * @throws {TypeError} When it is not a non-empty array of `{ role, content }` strings.
 *
 * @example
 * ```ts
 * import { checkMessages } from "@specdec/specdec";
 * const m = checkMessages([{ role: "user", content: "Hi" }]);
 * if (m.length !== 1) throw new Error();
 * ```
 */
export function checkMessages(messages: unknown, name = "messages"): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new TypeError(`${name} must be a non-empty array of { role, content }`);
  }
  return messages.map((m, i) => {
    if (m === null || typeof m !== "object" || Array.isArray(m)) {
      throw new TypeError(`${name}[${i}] must be an object { role, content }`);
    }
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== "string" || role.length === 0) {
      throw new TypeError(`${name}[${i}].role must be a non-empty string`);
    }
    if (typeof content !== "string") {
      throw new TypeError(`${name}[${i}].content must be a string`);
    }
    return { role, content };
  });
}

/**
 * A compiled chat template.
 *
 * @example Rendering the SmolLM2 template
 * ```ts
 * import { ChatTemplate } from "@specdec/specdec";
 * const t = new ChatTemplate(
 *   "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}" +
 *     "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
 * );
 * const text = t.render([{ role: "user", content: "Hi" }]);
 * if (text !== "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") throw new Error(text);
 * ```
 */
export class ChatTemplate {
  /** The template source. */
  readonly source: string;
  readonly #template: Template;
  readonly #specials: Record<string, string>;

  /**
   * Compiles a template.
   *
   * @param source Jinja source, as in `tokenizer_config.json`.
   * @param specialTokens Special-token strings the template may use (`bos_token`, `eos_token`, ...).
   * @param origin The file it came from (for error messages).
   * @throws {SpecDecError} When the source does not parse (the origin is named).
   */
  constructor(
    source: string,
    specialTokens: Record<string, string> = {},
    origin = "chat_template",
  ) {
    if (typeof source !== "string") throw new TypeError("source must be a string");
    try {
      this.#template = new Template(source);
    } catch (cause) {
      throw new SpecDecError(
        `Invalid chat template in ${origin}: ${(cause as Error).message}`,
        StatusCode.INVALID_ARGUMENT,
        { cause },
      );
    }
    this.source = source;
    this.#specials = { ...specialTokens };
  }

  /**
   * Renders messages to the prompt text (as transformers' `apply_chat_template(tokenize=False)`).
   *
   * @param messages The conversation.
   * @param options `addGenerationPrompt` (default true).
   * @returns The prompt text, special tokens written out.
   * @throws {TypeError} For malformed messages (the field is named).
   * @throws {SpecDecError} When the template raises (its message is kept).
   */
  render(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
    const checked = checkMessages(messages);
    try {
      return this.#template.render({
        ...this.#specials,
        messages: checked,
        add_generation_prompt: options.addGenerationPrompt ?? true,
      });
    } catch (cause) {
      throw new SpecDecError(
        `Chat template failed: ${(cause as Error).message}`,
        StatusCode.INVALID_ARGUMENT,
        { cause },
      );
    }
  }
}
