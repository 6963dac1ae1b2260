/**
 * `specdec serve`: loads one model set and serves it over the OpenAI API
 * until SIGINT/SIGTERM (the CLI's abort signal).
 *
 * @module
 */

import type { ServeArgs } from "./cli_args.ts";
import type { CliBackend, LoadRequest } from "./cli_backend.ts";
import type { CliIO } from "./cli_io.ts";
import { ProgressBar } from "./progress_bar.ts";
import { UsageError } from "./usage_error.ts";
import { isDir, isModelDir, resolveModelDir } from "./_paths.ts";
import { OpenAIServer } from "../server/openai_server.ts";
import { loadOrExplain } from "./generate_command.ts";

/**
 * Runs `serve` with parsed arguments: loads the models, listens, and on
 * `signal` stops accepting requests, cancels the running and queued ones and
 * closes the sessions.
 *
 * @param args Parsed `serve` options.
 * @param io Terminal streams (the listening line goes to stderr).
 * @param backend Model loader.
 * @param signal Stops the server (SIGINT / SIGTERM).
 * @returns The exit code (0 after a graceful shutdown).
 * @throws {UsageError} For a missing model folder.
 *
 * @example Serving the bundled checkpoints
 * ```ts ignore
 * import { denoCliIO, onnxBackend, parseCliArgs, serveCommand } from "@specdec/specdec/cli";
 * const cmd = parseCliArgs(["serve", "--port", "8080"]);
 * if (cmd.command === "serve") await serveCommand(cmd.args, denoCliIO(), onnxBackend());
 * ```
 */
export async function serveCommand(
  args: ServeArgs,
  io: CliIO,
  backend: CliBackend,
  signal?: AbortSignal,
): Promise<number> {
  const cmd = "serve";
  const model = await resolveModelDir(args.model, "bench-target", "--model", cmd);
  const request: LoadRequest = { model };
  if (args.draft !== undefined || args.model === undefined) {
    request.draft = await resolveModelDir(args.draft, "bench-draft", "--draft", cmd);
  }
  if (args.medusa !== undefined) {
    if (!(await isDir(args.medusa))) {
      throw new UsageError(`--medusa: Medusa heads folder not found: ${args.medusa}`, cmd);
    }
    request.medusa = args.medusa;
  } else if (await isDir(`${model}/medusa`)) {
    request.medusa = `${model}/medusa`;
  }
  if (args.eagle !== undefined) {
    if (!(await isModelDir(args.eagle))) {
      throw new UsageError(`--eagle: no EAGLE head (config.json) in ${args.eagle}`, cmd);
    }
    request.eagle = args.eagle;
  } else if (await isModelDir(`${model}/eagle`)) {
    request.eagle = `${model}/eagle`;
  }
  if (args.threads !== undefined) request.threads = args.threads;
  if (args.draftThreads !== undefined) request.draftThreads = args.draftThreads;
  else if (request.draft !== undefined) request.draftThreads = 1;
  if (args.maxLength !== undefined) request.maxLength = args.maxLength;
  if (args.weights !== undefined) request.weights = args.weights;
  if (args.draftWeights !== undefined) request.draftWeights = args.draftWeights;
  if (request.draft !== undefined || request.medusa !== undefined || request.eagle !== undefined) {
    request.spinning = request.draftThreads === 1;
  }
  const sink = { write: (t: string) => io.writeErr(t), isTerminal: io.stderrIsTerminal };
  const stage = <T>(label: string, work: () => Promise<T>): Promise<T> =>
    new ProgressBar(label, sink).wrap(work);
  using models = await loadOrExplain(backend, request, stage, cmd);
  const name = args.name ?? model.replace(/\/+$/, "").split("/").pop() ?? "model";
  const server = new OpenAIServer(models, { modelName: name, queueSize: args.queueSize });
  if (signal?.aborted) return 0;
  let listening: (addr: Deno.NetAddr) => void = () => {};
  const ready = new Promise<Deno.NetAddr>((resolve) => (listening = resolve));
  let http;
  try {
    http = server.listen({ hostname: args.host, port: args.port, onListen: listening });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`--port ${args.port}: address ${args.host}:${args.port} is in use`, cmd);
    }
    throw err;
  }
  const addr = await ready;
  await io.writeErr(
    `serving '${name}' (${models.methods.join(", ")}; default ${server.defaultMethod}) on ` +
      `http://${addr.hostname}:${addr.port}/v1\n`,
  );
  const stop = (): void => {
    server.shutdown();
  };
  signal?.addEventListener("abort", stop, { once: true });
  await http.finished;
  signal?.removeEventListener("abort", stop);
  await io.writeErr("server stopped\n");
  return 0;
}
