/**
 * The error a server request fails with: an HTTP status and an OpenAI-style
 * error body naming the offending field.
 *
 * @module
 */

/** OpenAI's error `type` values the server uses. */
export type RequestErrorType =
  | "invalid_request_error"
  | "not_found_error"
  | "server_error"
  | "server_busy";

/**
 * A request the server refuses (4xx) or could not serve (5xx). Rendered as
 * `{ "error": { "message", "type", "param", "code" } }`, as OpenAI does.
 *
 * @example A validation error naming its field
 * ```ts
 * import { RequestError } from "@specdec/specdec/cli";
 * const e = new RequestError(400, "max_tokens must be >= 1, got 0", { param: "max_tokens" });
 * const body = e.toJSON();
 * if (body.error.param !== "max_tokens" || e.status !== 400) throw new Error();
 * ```
 */
export class RequestError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The request field at fault, or `null`. */
  readonly param: string | null;
  /** OpenAI error type. */
  readonly type: RequestErrorType;
  /** Machine-readable code (`model_not_found`, `queue_full`, ...), or `null`. */
  readonly code: string | null;
  /** Extra response headers (`Retry-After`, `Allow`). */
  readonly headers: Record<string, string>;

  /**
   * Creates a request error.
   *
   * @param status HTTP status (4xx or 5xx).
   * @param message What was wrong, naming the field.
   * @param options Field, type, code and headers.
   */
  constructor(
    status: number,
    message: string,
    options: {
      param?: string;
      type?: RequestErrorType;
      code?: string;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.status = status;
    this.param = options.param ?? null;
    this.type = options.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  /** Always `"RequestError"`. */
  override get name(): string {
    return "RequestError";
  }

  /**
   * The OpenAI-style body.
   *
   * @returns `{ error: { message, type, param, code } }`.
   */
  toJSON(): {
    error: { message: string; type: string; param: string | null; code: string | null };
  } {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }

  /**
   * The HTTP response.
   *
   * @returns A JSON response with this error's status and headers.
   */
  toResponse(): Response {
    return new Response(JSON.stringify(this.toJSON()), {
      status: this.status,
      headers: { "content-type": "application/json", ...this.headers },
    });
  }
}
