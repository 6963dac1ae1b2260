/**
 * The specdec command line: `generate`, `demo` and the other commands of
 * {@linkcode runCli}, and the pieces it is made of (argument parsing, the model
 * loader, the progress bar) for scripts and benchmarks that drive it.
 *
 * ```sh
 * deno run --allow-ffi --allow-read --allow-write --allow-env --allow-run --allow-net \
 *   jsr:@specdec/specdec/cli generate "def parse(" --model org/name --draft org/name-draft
 * ```
 *
 * `deno run ... mod.ts generate ...` runs the same CLI.
 *
 * @example Parsing a command line without running it
 * ```ts
 * import { parseCliArgs } from "@specdec/specdec/cli";
 * const command = parseCliArgs(["generate", "def f(", "--max-new-tokens", "8"]);
 * if (command.command !== "generate") throw new Error("unexpected");
 * ```
 *
 * @module
 */

import { cliMain } from "./lib/cli/run_cli.ts";

export { cliMain, runCli } from "./lib/cli/run_cli.ts";
export type { RunCliOptions } from "./lib/cli/run_cli.ts";
export { parseCliArgs, UsageError } from "./lib/cli/args.ts";
export type {
  CliCommand,
  DecodingMethod,
  DemoArgs,
  GenerateArgs,
  ServeArgs,
} from "./lib/cli/args.ts";
export { denoCliIO } from "./lib/cli/output.ts";
export type { CliIO } from "./lib/cli/output.ts";
export { demoCommand, generateCommand, serveCommand } from "./lib/cli/commands.ts";
export { loadedModels, loadModelParts, onnxBackend, sessionOptions } from "./lib/cli/models.ts";
export type {
  CliBackend,
  CliChatPrompt,
  CliDecoder,
  CliGeneration,
  DecoderSettings,
  LoadedModels,
  LoadRequest,
  ModelLoadOptions,
  ModelParts,
  StageRunner,
} from "./lib/cli/models.ts";
export { MEASURED_DEFAULTS, measuredDefaultsFor } from "./lib/cli/measured_defaults.ts";
export type {
  DrafterPrecision,
  LookupBranchDefault,
  MeasuredDefaults,
  SamplingDefaults,
  SpeculativeMethod,
} from "./lib/cli/measured_defaults.ts";
export { ProgressBar } from "./lib/util/progress_bar.ts";
export type { ProgressBarOptions, ProgressSink } from "./lib/util/progress_bar.ts";
export { OpenAIServer } from "./lib/server/openai_server.ts";
export type { ListenOptions, OpenAIServerOptions } from "./lib/server/openai_server.ts";
export { parseRequest } from "./lib/server/parse_request.ts";
export type {
  ParsedRequest,
  RequestKind,
  RequestLimits,
  ServerChatMessage,
} from "./lib/server/parse_request.ts";
export { RequestError } from "./lib/server/request_error.ts";
export type { RequestErrorType } from "./lib/server/request_error.ts";
export { QueueFullError, RequestQueue } from "./lib/server/request_queue.ts";

// `deno run -A cli.ts <command>` (or jsr:@specdec/specdec/cli): run the CLI.
if (import.meta.main) await cliMain();
