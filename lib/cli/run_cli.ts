/**
 * The CLI entry: parses arguments, runs a command, turns errors into exit
 * codes (0 ok, 1 runtime error, 2 usage error) and one-line messages.
 *
 * @module
 */

import { parseCliArgs } from "./cli_args.ts";
import type { CliBackend, LoadedModels } from "./cli_backend.ts";
import { type CliIO, denoCliIO } from "./cli_io.ts";
import { demoCommand } from "./demo_command.ts";
import { generateCommand } from "./generate_command.ts";
import { UsageError } from "./usage_error.ts";
import { DEMO_USAGE, GENERATE_USAGE, MAIN_USAGE, SERVE_USAGE } from "./_usage.ts";
import { serveCommand } from "./serve_command.ts";
import { SpecDecError } from "../runtime/errors.ts";
import denoJson from "../../deno.json" with { type: "json" };

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** Terminal streams (default: the process's). */
  io?: CliIO;
  /** Model loader (default: ONNX Runtime checkpoints with the project's decoders). */
  backend?: CliBackend;
  /** Aborts a running generation (the entry point wires Ctrl-C to it). */
  signal?: AbortSignal;
}

/**
 * Runs the CLI. Never throws for a user mistake: usage errors print one line
 * and return 2; runtime failures (`SpecDecError` and others) print their
 * message and return 1 (the stack only when `SPECDEC_DEBUG` is set).
 *
 * @param argv Arguments without the program name (e.g. `Deno.args`).
 * @param options Streams, backend and abort signal.
 * @returns The process exit code.
 *
 * @example Showing the help
 * ```ts
 * import { runCli } from "@specdec/specdec/cli";
 * let out = "";
 * const io = {
 *   writeOut: (t: string) => Promise.resolve(void (out += t)),
 *   writeErr: () => Promise.resolve(),
 *   stderrIsTerminal: false,
 *   stdinIsTerminal: true,
 *   readStdin: () => Promise.resolve(""),
 * };
 * const code = await runCli(["--help"], { io });
 * if (code !== 0 || !out.includes("generate")) throw new Error("unexpected");
 * ```
 */
export async function runCli(
  argv: readonly string[],
  options: RunCliOptions = {},
): Promise<number> {
  const io = options.io ?? denoCliIO();
  try {
    const cmd = parseCliArgs(argv);
    switch (cmd.command) {
      case "help": {
        const text = cmd.topic === "generate"
          ? GENERATE_USAGE
          : cmd.topic === "demo"
          ? DEMO_USAGE
          : cmd.topic === "serve"
          ? SERVE_USAGE
          : MAIN_USAGE;
        await io.writeOut(text);
        return 0;
      }
      case "version":
        await io.writeOut(`specdec ${denoJson.version}\n`);
        return 0;
      case "generate":
        return await generateCommand(cmd.args, io, backendOf(options), options.signal);
      case "demo":
        return await demoCommand(cmd.args, io, backendOf(options), options.signal);
      case "serve":
        return await serveCommand(cmd.args, io, backendOf(options), options.signal);
    }
  } catch (err) {
    return await reportError(err, io);
  }
}

function backendOf(options: RunCliOptions): CliBackend {
  if (options.backend !== undefined) return options.backend;
  // Imported on first load so `--help` and usage errors never touch the native library.
  return {
    async load(request, onStage): Promise<LoadedModels> {
      const { onnxBackend } = await import("./onnx_backend.ts");
      return await onnxBackend().load(request, onStage);
    },
  };
}

async function reportError(err: unknown, io: CliIO): Promise<number> {
  const debug = (() => {
    try {
      return Deno.env.get("SPECDEC_DEBUG") !== undefined;
    } catch {
      return false;
    }
  })();
  if (err instanceof UsageError) {
    const hint = err.command !== undefined
      ? ` (see 'mod.ts ${err.command} --help')`
      : " (see 'mod.ts --help')";
    await io.writeErr(`error: ${err.message}${hint}\n`);
    return 2;
  }
  if (err instanceof DOMException && err.name === "AbortError") {
    await io.writeErr("aborted\n");
    return 130;
  }
  const message = err instanceof SpecDecError
    ? err.message
    : err instanceof Error
    ? `${err.name}: ${err.message}`
    : String(err);
  await io.writeErr(`error: ${message}\n`);
  if (debug && err instanceof Error) await io.writeErr(`${err.stack ?? ""}\n`);
  return 1;
}
