/**
 * The CLI entry: {@linkcode runCli} parses arguments, runs a command and turns errors into exit
 * codes (0 ok, 1 runtime error, 2 usage error) and one-line messages; {@linkcode cliMain} runs
 * it on the process's arguments (`deno run -A mod.ts ...`), wires Ctrl-C to abort the generation
 * (a second Ctrl-C exits at once) and exits with the CLI's code.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };
import { SpecDecError } from "../runtime/errors.ts";
import {
  DEMO_USAGE,
  GENERATE_USAGE,
  MAIN_USAGE,
  parseCliArgs,
  SERVE_USAGE,
  UsageError,
} from "./args.ts";
import type { CliBackend, LoadedModels } from "./models.ts";
import { type CliIO, denoCliIO } from "./output.ts";
import { demoCommand, generateCommand, serveCommand } from "./commands.ts";

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
      const { onnxBackend } = await import("./models.ts");
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

/**
 * Runs the CLI on the process's arguments and exits the process.
 *
 * @returns Never resolves normally: the process exits with the CLI's code.
 *
 * @example Running the CLI from a script (only as the main module: it exits the process)
 * ```ts
 * import { cliMain } from "@specdec/specdec/cli";
 * if (import.meta.main) await cliMain();
 * ```
 */
export async function cliMain(): Promise<void> {
  const controller = new AbortController();
  const onInterrupt = (): void => {
    if (controller.signal.aborted) Deno.exit(130);
    controller.abort();
  };
  let listening = false;
  try {
    Deno.addSignalListener("SIGINT", onInterrupt);
    // `serve` shuts down gracefully on SIGTERM too (service managers, containers).
    Deno.addSignalListener("SIGTERM", onInterrupt);
    listening = true;
  } catch {
    // Signals are not available on every platform; Ctrl-C then ends the process directly.
  }
  const code = await runCli(Deno.args, { signal: controller.signal });
  if (listening) {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onInterrupt);
  }
  Deno.exit(code);
}
