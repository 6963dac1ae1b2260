/**
 * Validation of OpenAI `completions` and `chat/completions` request bodies:
 * every mistake becomes a 400 {@linkcode RequestError} naming the field.
 *
 * @module
 */

import { RequestError } from "./request_error.ts";

/** Which endpoint a body was sent to. */
export type RequestKind = "completion" | "chat";

/** A chat message as the server passes it to the chat template. */
export interface ServerChatMessage {
  /** `system`, `user`, `assistant` or `tool`. */
  role: string;
  /** The text (content parts of type `text` are joined). */
  content: string;
}

/** A validated request. */
export interface ParsedRequest {
  /** The endpoint. */
  kind: RequestKind;
  /** `model` as sent. */
  model: string;
  /** Prompt text (`completion`) or messages (`chat`). */
  prompt: string | { messages: ServerChatMessage[] };
  /** `max_tokens` (or `max_completion_tokens`); `undefined`: the endpoint's default. */
  maxTokens: number | undefined;
  /** `temperature` in [0, 2]; default 1 as in OpenAI's API. */
  temperature: number;
  /** `top_p` in (0, 1]. */
  topP: number | undefined;
  /** `top_k` (an extension, as llama.cpp and vLLM accept it), `>= 0`; 0 = off. */
  topK: number | undefined;
  /** `seed`, a non-negative safe integer. */
  seed: number | undefined;
  /** `stop`: up to 4 non-empty strings. */
  stop: string[];
  /** `stream`. */
  stream: boolean;
  /** `stream_options.include_usage`. */
  includeUsage: boolean;
  /** `speculation.method`; `undefined`: the server's default. */
  method: string | undefined;
  /** `speculation.k`: draft tokens per step, 1..32. */
  k: number | undefined;
  /** `speculation.tree`: Medusa tree size in nodes. */
  tree: number | undefined;
  /** `speculation.lookup`: prompt-lookup branch tokens (speculative, medusa, eagle), 0..64. */
  lookup: number | undefined;
}

/** Server limits a request is checked against. */
export interface RequestLimits {
  /** Methods the loaded models can run. */
  methods: readonly string[];
  /** Context in tokens: `max_tokens` may not exceed it. */
  contextLength: number;
}

function bad(param: string, message: string): never {
  throw new RequestError(400, message, { param });
}

function optNumber(
  body: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
  minOpen = false,
): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    bad(key, `${key} must be a number, got ${JSON.stringify(v)}`);
  }
  if ((minOpen ? v <= min : v < min) || v > max) {
    bad(key, `${key} must be in ${minOpen ? "(" : "["}${min}, ${max}], got ${v}`);
  }
  return v;
}

function optInt(
  obj: Record<string, unknown>,
  key: string,
  param: string,
  min: number,
  max: number,
): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    bad(param, `${param} must be an integer, got ${JSON.stringify(v)}`);
  }
  if (v < min || v > max) bad(param, `${param} must be in [${min}, ${max}], got ${v}`);
  return v;
}

function optBool(body: Record<string, unknown>, key: string): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") bad(key, `${key} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function messageContent(v: unknown, i: number): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    return v.map((part, j) => {
      const p = part as Record<string, unknown> | null;
      if (p === null || typeof p !== "object" || p.type !== "text" || typeof p.text !== "string") {
        bad(
          `messages[${i}].content[${j}]`,
          `messages[${i}].content[${j}] must be { "type": "text", "text": string }`,
        );
      }
      return p.text as string;
    }).join("");
  }
  bad(`messages[${i}].content`, `messages[${i}].content must be a string or text parts`);
}

/**
 * Validates a parsed JSON body.
 *
 * @param body The parsed JSON.
 * @param kind The endpoint.
 * @param limits Methods available and the context length.
 * @returns The request, typed, defaults filled.
 * @throws {RequestError} 400 naming the field at fault.
 *
 * @example A completion request
 * ```ts
 * import { parseRequest } from "@specdec/specdec/cli";
 * const r = parseRequest(
 *   { model: "m", prompt: "def f(", max_tokens: 8, speculation: { method: "ar" } },
 *   "completion",
 *   { methods: ["ar"], contextLength: 1024 },
 * );
 * if (r.maxTokens !== 8 || r.method !== "ar") throw new Error();
 * ```
 */
export function parseRequest(
  body: unknown,
  kind: RequestKind,
  limits: RequestLimits,
): ParsedRequest {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new RequestError(400, "The request body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  if (typeof b.model !== "string" || b.model.length === 0) {
    bad("model", `model must be a non-empty string, got ${JSON.stringify(b.model)}`);
  }
  let prompt: ParsedRequest["prompt"];
  if (kind === "completion") {
    let p = b.prompt;
    if (Array.isArray(p) && p.length === 1 && typeof p[0] === "string") p = p[0];
    if (typeof p !== "string") {
      bad("prompt", `prompt must be a string (or one string in an array), got ${typeOf(b.prompt)}`);
    }
    if (p.length === 0) bad("prompt", "prompt must not be empty");
    prompt = p;
  } else {
    const m = b.messages;
    if (!Array.isArray(m) || m.length === 0) {
      bad("messages", `messages must be a non-empty array, got ${typeOf(m)}`);
    }
    const messages = m.map((msg, i): ServerChatMessage => {
      if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
        bad(`messages[${i}]`, `messages[${i}] must be an object { role, content }`);
      }
      const { role, content } = msg as Record<string, unknown>;
      if (
        typeof role !== "string" ||
        !["system", "developer", "user", "assistant", "tool"].includes(role)
      ) {
        bad(
          `messages[${i}].role`,
          `messages[${i}].role must be system, user, assistant or tool, got ${
            JSON.stringify(role)
          }`,
        );
      }
      return {
        role: role === "developer" ? "system" : role,
        content: content === null && role === "assistant" ? "" : messageContent(content, i),
      };
    });
    prompt = { messages };
  }
  const n = optInt(b, "n", "n", 1, 1);
  void n;
  const maxKey = b.max_completion_tokens !== undefined && b.max_completion_tokens !== null
    ? "max_completion_tokens"
    : "max_tokens";
  const maxTokens = optInt(b, maxKey, maxKey, 1, Number.MAX_SAFE_INTEGER);
  if (maxTokens !== undefined && maxTokens > limits.contextLength) {
    bad(
      maxKey,
      `${maxKey} ${maxTokens} exceeds the context of ${limits.contextLength} tokens (prompt included)`,
    );
  }
  let stop: string[] = [];
  const s = b.stop;
  if (typeof s === "string") stop = [s];
  else if (Array.isArray(s)) stop = s as string[];
  else if (s !== undefined && s !== null) {
    bad("stop", `stop must be a string or an array of strings`);
  }
  if (stop.length > 4) bad("stop", `stop takes at most 4 strings, got ${stop.length}`);
  if (stop.some((x) => typeof x !== "string" || x.length === 0)) {
    bad("stop", "stop must hold non-empty strings");
  }
  const so = b.stream_options;
  let includeUsage = false;
  if (so !== undefined && so !== null) {
    if (typeof so !== "object" || Array.isArray(so)) {
      bad("stream_options", "stream_options must be an object");
    }
    const iu = (so as Record<string, unknown>).include_usage;
    if (iu !== undefined && typeof iu !== "boolean") {
      bad("stream_options.include_usage", "stream_options.include_usage must be a boolean");
    }
    includeUsage = iu === true;
  }
  let method: string | undefined;
  let k: number | undefined;
  let tree: number | undefined;
  let lookup: number | undefined;
  const spec = b.speculation;
  if (spec !== undefined && spec !== null) {
    if (typeof spec !== "object" || Array.isArray(spec)) {
      bad("speculation", `speculation must be an object { method, k }, got ${typeOf(spec)}`);
    }
    const sp = spec as Record<string, unknown>;
    if (sp.method !== undefined) {
      if (typeof sp.method !== "string" || !limits.methods.includes(sp.method)) {
        bad(
          "speculation.method",
          `speculation.method must be one of ${limits.methods.join(", ")} (what this server ` +
            `loaded), got ${JSON.stringify(sp.method)}`,
        );
      }
      method = sp.method;
    }
    k = optInt(sp, "k", "speculation.k", 1, 32);
    tree = optInt(sp, "tree", "speculation.tree", 1, 256);
    lookup = optInt(sp, "lookup", "speculation.lookup", 0, 64);
  }
  return {
    kind,
    model: b.model,
    prompt,
    maxTokens,
    temperature: optNumber(b, "temperature", 0, 2) ?? 1,
    topP: optNumber(b, "top_p", 0, 1, true),
    topK: optInt(b, "top_k", "top_k", 0, Number.MAX_SAFE_INTEGER),
    seed: optInt(b, "seed", "seed", 0, Number.MAX_SAFE_INTEGER),
    stop,
    stream: optBool(b, "stream"),
    includeUsage,
    method,
    k,
    tree,
    lookup,
  };
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v;
}
