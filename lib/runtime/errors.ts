/**
 * Errors raised by the native runtime.
 *
 * @module
 */

/** Status codes returned by the native shim (`sd_status` in `native/include/specdec.h`). */
export const StatusCode = {
  /** The call succeeded. */
  OK: 0,
  /** An argument was invalid (null handle, bad size, unknown name). */
  INVALID_ARGUMENT: 1,
  /** A file could not be read or is malformed. */
  IO: 2,
  /** ONNX Runtime reported a failure. */
  ORT: 3,
  /** A handle was used after it was destroyed, or the library is unusable. */
  STATE: 4,
  /** Memory allocation failed. */
  OUT_OF_MEMORY: 5,
  /** A requested feature (CUDA, a GPU) is not available. */
  UNAVAILABLE: 6,
} as const;

/** A status code from {@linkcode StatusCode}. */
export type StatusCodeValue = typeof StatusCode[keyof typeof StatusCode];

/**
 * A failure of the native runtime or of a model file: the message says what
 * failed and names the file or parameter; `code` is the shim's status code.
 *
 * @example Catching a runtime failure
 * ```ts
 * import { SpecDecError, StatusCode } from "@specdec/specdec";
 * const err = new SpecDecError("Model file not found: /x.onnx", StatusCode.IO);
 * if (!(err instanceof SpecDecError) || err.code !== StatusCode.IO) throw new Error("unexpected");
 * ```
 */
export class SpecDecError extends Error {
  /** The shim's status code ({@linkcode StatusCode}), or `STATE` for TypeScript-side state errors. */
  readonly code: number;

  /**
   * Creates the error.
   *
   * @param message What failed, naming the file or parameter.
   * @param code The shim's status code.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, code: number = StatusCode.ORT, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  /** Always `"SpecDecError"`. */
  override get name(): string {
    return "SpecDecError";
  }
}
