/**
 * The error the CLI raises for a user mistake (unknown flag, bad number,
 * missing model folder): printed as one line, exit code 2, never a stack trace.
 *
 * @module
 */

/**
 * A mistake in how the CLI was called. `runCli` prints its message on one
 * line and exits with code 2.
 *
 * @example Raising and recognising a usage error
 * ```ts
 * import { UsageError } from "@specdec/specdec/cli";
 * const err = new UsageError("--k must be an integer, got '2.5'");
 * if (!(err instanceof UsageError) || err.name !== "UsageError") throw new Error("unexpected");
 * ```
 */
export class UsageError extends Error {
  /** The command whose `--help` the message should point to (`generate`, `demo`), if any. */
  readonly command: string | undefined;

  /**
   * Creates a usage error.
   *
   * @param message What was wrong, naming the flag or path.
   * @param command The command being parsed, so the hint can name its `--help`.
   */
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }

  /** Always `"UsageError"`. */
  override get name(): string {
    return "UsageError";
  }
}
