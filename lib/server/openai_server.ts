/**
 * An OpenAI-compatible HTTP server over one loaded model set: `/v1/models`,
 * `/v1/completions`, `/v1/chat/completions` (streamed as server-sent events
 * when asked), `/health`. Each request chooses its speculation method; one
 * request runs at a time, the others wait in a bounded queue.
 *
 * @module
 */

import type { CliGeneration, DecoderSettings, LoadedModels } from "../cli/models.ts";
import type { DecodingMethod } from "../cli/args.ts";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";
import { type ParsedRequest, parseRequest, type RequestKind } from "./parse_request.ts";
import { RequestError } from "./request_error.ts";
import { QueueFullError, RequestQueue } from "./request_queue.ts";

/** Options of {@linkcode OpenAIServer}. */
export interface OpenAIServerOptions {
  /** The model name clients send (`model`) and `/v1/models` lists. */
  modelName: string;
  /** Requests that may wait behind the running one; default 16. More are answered 503. */
  queueSize?: number;
  /** Method when a request names none; default `speculative` when a draft is loaded, else `ar`. */
  defaultMethod?: DecodingMethod;
  /** Largest request body in bytes; default 2 MiB (larger: 413). */
  maxBodyBytes?: number;
  /** Default `max_tokens` of `/v1/completions` (OpenAI's is 16); chat defaults to the context. */
  defaultMaxTokens?: number;
}

/** Where {@linkcode OpenAIServer.listen} listens. */
export interface ListenOptions {
  /** Address, default `127.0.0.1`. */
  hostname?: string;
  /** Port, default 8080; 0 picks a free one. */
  port?: number;
  /** Called once listening, with the bound address. */
  onListen?: (addr: Deno.NetAddr) => void;
}

const JSON_HEADERS = { "content-type": "application/json" };
const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "connection": "keep-alive",
};

function finishReason(metrics: Record<string, unknown>): "stop" | "length" {
  const r = metrics.finishReason;
  return r === "eos" || r === "stop" ? "stop" : "length";
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

/** This process's memory in MiB (0.1): resident, V8 heap used and reserved, external buffers. */
function memoryMiB(): Record<string, number> {
  const m = Deno.memoryUsage();
  const mib = (bytes: number): number => Math.round(bytes / 104857.6) / 10;
  return {
    rss: mib(m.rss),
    heapUsed: mib(m.heapUsed),
    heapTotal: mib(m.heapTotal),
    external: mib(m.external),
  };
}

function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === "AbortError";
}

/**
 * The server. Construct it over loaded models, then {@linkcode OpenAIServer.listen}
 * (or pass {@linkcode OpenAIServer.handler} to your own `Deno.serve`).
 *
 * @example Serving the tiny checkpoints on a free port
 * ```ts
 * import { onnxBackend, OpenAIServer } from "@specdec/specdec/cli";
 * using models = await onnxBackend().load(
 *   { model: "models/tiny-target", draft: "models/tiny-draft" },
 *   (_label, work) => work(),
 * );
 * const server = new OpenAIServer(models, { modelName: "tiny" });
 * const { addr } = server.listen({ port: 0 });
 * const base = `http://127.0.0.1:${addr.port}`;
 * const r = await fetch(`${base}/v1/completions`, {
 *   method: "POST",
 *   body: JSON.stringify({ model: "tiny", prompt: "def f(", max_tokens: 8, temperature: 0 }),
 * });
 * const body = await r.json();
 * if (r.status !== 200 || body.usage.completion_tokens !== 8) throw new Error("unexpected");
 * const health = await (await fetch(`${base}/health`)).json();
 * if (health.status !== "ok" || health.open !== 0 || health.served !== 1) throw new Error("unexpected");
 * await server.shutdown();
 * ```
 */
export class OpenAIServer {
  /** The model name clients send. */
  readonly modelName: string;
  /** Method of requests that name none. */
  readonly defaultMethod: DecodingMethod;
  readonly #models: LoadedModels;
  readonly #queue: RequestQueue;
  readonly #maxBody: number;
  readonly #defaultMaxTokens: number;
  readonly #contextLength: number;
  readonly #active = new Set<AbortController>();
  readonly #created = Math.floor(Date.now() / 1000);
  #http: Deno.HttpServer<Deno.NetAddr> | undefined;
  #closing = false;
  #served = 0;
  #cancelled = 0;
  #meanSeconds = 1;

  /**
   * Creates the server (nothing listens yet).
   *
   * @param models Loaded models (closed by the caller after {@linkcode OpenAIServer.shutdown}).
   * @param options Model name, queue size, defaults.
   */
  constructor(models: LoadedModels, options: OpenAIServerOptions) {
    if (models === null || typeof models !== "object" || typeof models.decoder !== "function") {
      throw new TypeError("models must be LoadedModels");
    }
    if (typeof options?.modelName !== "string" || options.modelName.length === 0) {
      throw new TypeError("options.modelName must be a non-empty string");
    }
    this.#models = models;
    this.modelName = options.modelName;
    this.#queue = new RequestQueue(options.queueSize ?? 16);
    this.#maxBody = options.maxBodyBytes ?? 2 * 1024 * 1024;
    this.#defaultMaxTokens = options.defaultMaxTokens ?? 16;
    this.#contextLength = models.contextLength ?? 1024;
    const def = options.defaultMethod ??
      (models.methods.includes("speculative") ? "speculative" : "ar");
    if (!models.methods.includes(def)) {
      throw new RangeError(
        `defaultMethod ${def} is not one of the loaded methods ${models.methods.join(", ")}`,
      );
    }
    this.defaultMethod = def;
  }

  /** The handler: `Deno.serve({ handler: server.handler })`. */
  readonly handler = (req: Request): Promise<Response> => this.#route(req);

  /**
   * Listens with `Deno.serve`.
   *
   * @param options Address and port.
   * @returns The bound address and a promise settled when the server has stopped.
   */
  listen(options: ListenOptions = {}): { addr: Deno.NetAddr; finished: Promise<void> } {
    if (this.#http) throw new SpecDecError("OpenAIServer is already listening", StatusCode.STATE);
    const http = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 8080,
      onListen: (addr) => options.onListen?.(addr),
      onError: (err) => this.#internal(err),
    }, this.handler);
    this.#http = http;
    return { addr: http.addr, finished: http.finished };
  }

  /** Requests running (0 or 1) and waiting. */
  get load(): { running: number; queued: number } {
    return { running: this.#queue.running, queued: this.#queue.waiting };
  }

  /**
   * Requests admitted and not yet finished: running, queued, or still ending their stream. Each
   * holds an abort controller and a listener on its request's signal; 0 when the server is idle.
   */
  get open(): number {
    return this.#active.size;
  }

  /**
   * Stops accepting requests, cancels the running and queued ones (their
   * clients get an error or the end of their stream) and waits for the HTTP
   * server to finish. Idempotent.
   *
   * @returns When every connection has ended.
   */
  async shutdown(): Promise<void> {
    this.#closing = true;
    const reason = new DOMException("The server is shutting down", "AbortError");
    this.#queue.rejectWaiting(reason);
    for (const ac of this.#active) ac.abort(reason);
    await this.#http?.shutdown();
  }

  async #route(req: Request): Promise<Response> {
    try {
      const url = new URL(req.url);
      const path = url.pathname.replace(/\/+$/, "") || "/";
      if (path === "/health") {
        this.#allow(req, "GET");
        return json({
          status: this.#closing ? "shutting_down" : "ok",
          model: this.modelName,
          ...this.load,
          open: this.open,
          served: this.#served,
          cancelled: this.#cancelled,
          memory: memoryMiB(),
        }, this.#closing ? 503 : 200);
      }
      if (path === "/v1/models") {
        this.#allow(req, "GET");
        return json({ object: "list", data: [this.#modelCard()] });
      }
      if (path.startsWith("/v1/models/")) {
        this.#allow(req, "GET");
        const id = decodeURIComponent(path.slice("/v1/models/".length));
        if (id !== this.modelName) throw this.#unknownModel(id);
        return json(this.#modelCard());
      }
      if (path === "/v1/completions") return await this.#complete(req, "completion");
      if (path === "/v1/chat/completions") return await this.#complete(req, "chat");
      throw new RequestError(404, `Unknown endpoint ${req.method} ${url.pathname}`, {
        type: "not_found_error",
        code: "unknown_url",
      });
    } catch (err) {
      if (err instanceof RequestError) return err.toResponse();
      return this.#internal(err);
    }
  }

  #allow(req: Request, method: string): void {
    if (req.method !== method) {
      throw new RequestError(405, `${req.method} is not allowed here (use ${method})`, {
        code: "method_not_allowed",
        headers: { allow: method },
      });
    }
  }

  #modelCard(): Record<string, unknown> {
    return {
      id: this.modelName,
      object: "model",
      created: this.#created,
      owned_by: "specdec",
      speculation: { methods: this.#models.methods, default: this.defaultMethod },
      context_length: this.#contextLength,
    };
  }

  #unknownModel(id: string): RequestError {
    return new RequestError(
      404,
      `The model '${id}' does not exist on this server (it serves '${this.modelName}')`,
      { param: "model", type: "not_found_error", code: "model_not_found" },
    );
  }

  #internal(err: unknown): Response {
    const message = err instanceof Error ? err.message : String(err);
    return new RequestError(500, `Internal error: ${message}`).toResponse();
  }

  async #readBody(req: Request): Promise<unknown> {
    const length = Number(req.headers.get("content-length") ?? "NaN");
    const tooLarge = (): RequestError =>
      new RequestError(413, `The request body exceeds ${this.#maxBody} bytes`, {
        code: "body_too_large",
      });
    if (length > 64 * this.#maxBody) throw tooLarge();
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (req.body) {
      // Read it all (past the limit only to discard it: the client can then read our answer).
      for await (const chunk of req.body) {
        total += chunk.length;
        if (total <= this.#maxBody) chunks.push(chunk);
        else if (total > 64 * this.#maxBody) throw tooLarge();
      }
    }
    if (total > this.#maxBody) throw tooLarge();
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new RequestError(400, "The request body is not valid UTF-8");
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new RequestError(400, `The request body is not valid JSON: ${(err as Error).message}`);
    }
  }

  async #complete(req: Request, kind: RequestKind): Promise<Response> {
    this.#allow(req, "POST");
    if (this.#closing) {
      throw new RequestError(503, "The server is shutting down", {
        type: "server_busy",
        code: "shutting_down",
      });
    }
    const body = await this.#readBody(req);
    const r = parseRequest(body, kind, {
      methods: this.#models.methods,
      contextLength: this.#contextLength,
    });
    if (r.model !== this.modelName) throw this.#unknownModel(r.model);
    this.#checkPrompt(r);
    const ac = new AbortController();
    const onClientGone = (): void =>
      ac.abort(new DOMException("The client disconnected", "AbortError"));
    req.signal.addEventListener("abort", onClientGone, { once: true });
    let entered: Promise<() => void>;
    try {
      entered = this.#queue.enter(ac.signal);
    } catch (err) {
      req.signal.removeEventListener("abort", onClientGone);
      if (err instanceof QueueFullError) {
        const wait = Math.max(1, Math.ceil(this.#meanSeconds * (this.#queue.waiting + 1)));
        throw new RequestError(503, `The server is busy: ${err.message}; retry later`, {
          type: "server_busy",
          code: "queue_full",
          headers: { "retry-after": String(wait) },
        });
      }
      throw err;
    }
    this.#active.add(ac);
    const done = (): void => {
      this.#active.delete(ac);
      req.signal.removeEventListener("abort", onClientGone);
    };
    const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${crypto.randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    if (r.stream) return this.#streamed(r, id, created, entered, ac, done);
    let release: (() => void) | undefined;
    try {
      release = await entered;
      const { gen, description, seed } = await this.#generate(r, ac.signal);
      return json(this.#body(r, id, created, gen, this.#speculation(r, gen, description, seed)));
    } catch (err) {
      if (isAbort(err)) {
        const gone = req.signal.aborted;
        return new RequestError(
          gone ? 499 : 503,
          gone ? "Client closed request" : String((err as Error).message),
          {
            type: "server_busy",
            code: "cancelled",
          },
        ).toResponse();
      }
      throw err;
    } finally {
      release?.();
      done();
    }
  }

  /** Encodes the prompt once before queueing: a bad prompt is a 400 even when streaming. */
  #checkPrompt(r: ParsedRequest): void {
    const tok = this.#models.tokenizer;
    const param = r.kind === "chat" ? "messages" : "prompt";
    let n: number;
    try {
      if (typeof r.prompt === "string") {
        n = tok.encode(r.prompt).length + (tok.addBosToken && tok.bosTokenId !== undefined ? 1 : 0);
      } else {
        if (typeof tok.encodeChat !== "function") {
          throw new RequestError(400, "This model has no chat template", { param });
        }
        n = tok.encodeChat(r.prompt.messages).length;
      }
    } catch (err) {
      if (err instanceof RequestError) throw err;
      if (err instanceof SpecDecError || err instanceof TypeError || err instanceof RangeError) {
        throw new RequestError(400, err.message, { param });
      }
      throw err;
    }
    if (n === 0) throw new RequestError(400, `${param} encodes to no tokens`, { param });
    if (n >= this.#contextLength) {
      throw new RequestError(
        400,
        `${param} is ${n} tokens but the context holds ${this.#contextLength} ` +
          `(the prompt and at least one new token must fit)`,
        { param, code: "context_length_exceeded" },
      );
    }
  }

  /** Runs one generation (the caller holds the slot). */
  async #generate(
    r: ParsedRequest,
    signal: AbortSignal,
    onText?: (piece: string) => void,
  ): Promise<{ gen: CliGeneration; description: string; seed: number }> {
    const method = (r.method ?? this.defaultMethod) as DecodingMethod;
    const settings: DecoderSettings = {
      temperature: r.temperature,
      maxNewTokens: r.maxTokens ??
        (r.kind === "completion" ? this.#defaultMaxTokens : this.#contextLength),
      stop: r.stop,
    };
    if (r.topP !== undefined) settings.topP = r.topP;
    // Without a seed, each request samples afresh (as OpenAI's API does); the seed used is
    // returned in `speculation.seed` so a sample can be reproduced.
    settings.seed = r.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!;
    if (r.topK !== undefined) settings.topK = r.topK;
    if (r.k !== undefined) settings.k = r.k;
    if (r.tree !== undefined) settings.tree = r.tree;
    if (r.lookup !== undefined) settings.lookup = r.lookup;
    let decoder;
    try {
      decoder = this.#models.decoder(method, settings);
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) {
        throw new RequestError(400, err.message, { param: "speculation" });
      }
      throw err;
    }
    const started = performance.now();
    try {
      const options = onText ? { signal, onText } : { signal };
      const gen = await decoder.generate(r.prompt, options);
      this.#served++;
      this.#meanSeconds = 0.8 * this.#meanSeconds + 0.2 * (performance.now() - started) / 1000;
      return { gen, description: decoder.description, seed: settings.seed };
    } catch (err) {
      if (isAbort(err)) this.#cancelled++;
      const param = r.kind === "chat" ? "messages" : "prompt";
      if (err instanceof RangeError || err instanceof TypeError) {
        throw new RequestError(400, err.message, { param });
      }
      if (err instanceof SpecDecError && /chat template/i.test(err.message)) {
        throw new RequestError(400, err.message, { param });
      }
      throw err;
    }
  }

  #speculation(
    r: ParsedRequest,
    gen: CliGeneration,
    description: string,
    seed: number,
  ): Record<string, unknown> {
    return {
      method: r.method ?? this.defaultMethod,
      description,
      seed,
      ...(r.k !== undefined ? { k: r.k } : {}),
      ...(r.lookup !== undefined ? { lookup: r.lookup } : {}),
      metrics: gen.metrics,
    };
  }

  #usage(gen: CliGeneration): Record<string, number> {
    const p = gen.promptTokens.length;
    return {
      prompt_tokens: p,
      completion_tokens: gen.tokens.length,
      total_tokens: p + gen.tokens.length,
    };
  }

  #body(
    r: ParsedRequest,
    id: string,
    created: number,
    gen: CliGeneration,
    speculation: Record<string, unknown>,
  ): Record<string, unknown> {
    const finish = finishReason(gen.metrics);
    const choice = r.kind === "chat"
      ? {
        index: 0,
        message: { role: "assistant", content: gen.text, refusal: null },
        logprobs: null,
        finish_reason: finish,
      }
      : { index: 0, text: gen.text, logprobs: null, finish_reason: finish };
    return {
      id,
      object: r.kind === "chat" ? "chat.completion" : "text_completion",
      created,
      model: this.modelName,
      choices: [choice],
      usage: this.#usage(gen),
      speculation,
    };
  }

  #streamed(
    r: ParsedRequest,
    id: string,
    created: number,
    entered: Promise<() => void>,
    ac: AbortController,
    done: () => void,
  ): Response {
    const enc = new TextEncoder();
    const object = r.kind === "chat" ? "chat.completion.chunk" : "text_completion";
    const chunk = (
      choices: unknown[],
      extra: Record<string, unknown> = {},
    ): Record<string, unknown> => ({
      id,
      object,
      created,
      model: this.modelName,
      choices,
      ...extra,
    });
    const choice = (text: string | undefined, finish: string | null, role = false): unknown =>
      r.kind === "chat"
        ? {
          index: 0,
          delta: text === undefined
            ? {}
            : role
            ? { role: "assistant", content: text }
            : { content: text },
          logprobs: null,
          finish_reason: finish,
        }
        : { index: 0, text: text ?? "", logprobs: null, finish_reason: finish };
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let open = true;
    const send = (data: unknown): void => {
      if (!open) return;
      try {
        controller.enqueue(
          enc.encode(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`),
        );
      } catch {
        open = false;
      }
    };
    const close = (): void => {
      if (!open) return;
      open = false;
      try {
        controller.close();
      } catch { /* already closed */ }
    };
    const run = async (): Promise<void> => {
      let release: (() => void) | undefined;
      try {
        release = await entered;
        if (r.kind === "chat") send(chunk([choice("", null, true)]));
        const { gen, description, seed } = await this.#generate(r, ac.signal, (piece) => {
          if (piece.length > 0) send(chunk([choice(piece, null)]));
        });
        const speculation = this.#speculation(r, gen, description, seed);
        send(chunk([choice(undefined, finishReason(gen.metrics))], { speculation }));
        if (r.includeUsage) send(chunk([], { usage: this.#usage(gen) }));
        send("[DONE]");
      } catch (err) {
        if (!isAbort(err) || !ac.signal.aborted || open) {
          const e = err instanceof RequestError
            ? err
            : isAbort(err)
            ? new RequestError(503, (err as Error).message, {
              type: "server_busy",
              code: "cancelled",
            })
            : new RequestError(
              500,
              `Internal error: ${err instanceof Error ? err.message : String(err)}`,
            );
          send(e.toJSON());
          send("[DONE]");
        }
      } finally {
        release?.();
        done();
        close();
      }
    };
    const stream = new ReadableStream<Uint8Array>({
      start(c): void {
        controller = c;
      },
      cancel(): void {
        open = false;
        ac.abort(new DOMException("The client disconnected", "AbortError"));
      },
    });
    run();
    return new Response(stream, { headers: SSE_HEADERS });
  }
}
