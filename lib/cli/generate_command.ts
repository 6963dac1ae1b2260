/**
 * `specdec generate`: one prompt in, streamed text out, a one-line summary
 * on stderr (or one JSON object with `--json`).
 *
 * @module
 */

import { DEFAULT_DRAFT_THREADS, type GenerateArgs } from "./cli_args.ts";
import type { CliBackend, DecoderSettings, LoadedModels, LoadRequest } from "./cli_backend.ts";
import type { CliIO } from "./cli_io.ts";
import { ProgressBar } from "./progress_bar.ts";
import { UsageError } from "./usage_error.ts";
import { SpecDecError } from "../runtime/errors.ts";
import { isDir, isModelDir, makeDecoder, resolveModelDir } from "./_paths.ts";
import { summaryFigures, summaryLine, toJsonValue } from "./_metrics.ts";

/**
 * Runs `generate` with parsed arguments.
 *
 * @param args Parsed `generate` options.
 * @param io Terminal streams.
 * @param backend Model loader and decoder factory.
 * @param signal Aborts generation (Ctrl-C); the partial result is still reported.
 * @returns The exit code (0).
 * @throws {UsageError} For a missing model folder, prompt or incompatible flags.
 *
 * @example Running generate over the bundled checkpoints
 * ```ts ignore
 * import { denoCliIO, generateCommand, onnxBackend, parseCliArgs } from "@specdec/specdec/cli";
 * const cmd = parseCliArgs(["generate", "def add(a, b):"]);
 * if (cmd.command === "generate") await generateCommand(cmd.args, denoCliIO(), onnxBackend());
 * ```
 */
export async function generateCommand(
  args: GenerateArgs,
  io: CliIO,
  backend: CliBackend,
  signal?: AbortSignal,
): Promise<number> {
  const request = await loadRequest(args);
  const text = await readPrompt(args, io);
  const prompt = args.chat
    ? {
      messages: [
        ...(args.system !== undefined ? [{ role: "system", content: args.system }] : []),
        { role: "user", content: text },
      ],
    }
    : text;
  const settings: DecoderSettings = {
    temperature: args.temperature,
    maxNewTokens: args.maxNewTokens,
    stop: args.stop,
  };
  if (args.k !== undefined) settings.k = args.k;
  if (args.tree !== undefined) settings.tree = args.tree;
  if (args.topK !== undefined) settings.topK = args.topK;
  if (args.topP !== undefined) settings.topP = args.topP;
  if (args.seed !== undefined) settings.seed = args.seed;
  if (args.bos !== undefined) settings.addBosToken = args.bos;

  const sink = { write: (t: string) => io.writeErr(t), isTerminal: io.stderrIsTerminal };
  const stage = <T>(label: string, work: () => Promise<T>): Promise<T> =>
    new ProgressBar(label, sink).wrap(work);
  using models = await loadOrExplain(backend, request, stage);
  const decoder = makeDecoder(() => models.decoder(args.method, settings), "generate");
  if (args.chat) {
    try {
      models.tokenizer.encodeChat?.([{ role: "user", content: "" }]);
    } catch (err) {
      if (err instanceof SpecDecError) throw new UsageError(`--chat: ${err.message}`, "generate");
    }
    if (models.tokenizer.encodeChat === undefined) {
      throw new UsageError("--chat: this tokenizer has no chat template", "generate");
    }
  }
  const options = signal !== undefined ? { signal } : {};

  if (args.json) {
    const out = await decoder.generate(prompt, options);
    const json = {
      text: out.text,
      tokens: out.tokens,
      prompt_tokens: out.promptTokens,
      metrics: toJsonValue(out.metrics),
    };
    await io.writeOut(`${JSON.stringify(json)}\n`);
    return 0;
  }
  let endsWithNewline = false;
  const out = await decoder.generate(prompt, {
    ...options,
    onText: async (piece: string) => {
      if (piece.length === 0) return;
      endsWithNewline = piece.endsWith("\n");
      await io.writeOut(piece);
    },
  });
  if (!endsWithNewline) await io.writeOut("\n");
  const figures = summaryFigures(out.metrics, out.tokens.length);
  await io.writeErr(`${summaryLine(figures, decoder.description)}\n`);
  return 0;
}

/** Loads the models; a context the models cannot hold is the user's `--max-length` mistake. */
export async function loadOrExplain(
  backend: CliBackend,
  request: LoadRequest,
  stage: <T>(label: string, work: () => Promise<T>) => Promise<T>,
  command = "generate",
): Promise<LoadedModels> {
  try {
    return await backend.load(request, stage);
  } catch (err) {
    if (
      request.maxLength !== undefined && err instanceof RangeError && /maxLength/.test(err.message)
    ) {
      throw new UsageError(`--max-length: ${err.message}`, command);
    }
    throw err;
  }
}

async function loadRequest(args: GenerateArgs): Promise<LoadRequest> {
  const cmd = "generate";
  const model = await resolveModelDir(args.model, "bench-target", "--model", cmd);
  const request: LoadRequest = { model };
  if (args.threads !== undefined) request.threads = args.threads;
  if (args.maxLength !== undefined) request.maxLength = args.maxLength;
  const twoSessions = args.method === "speculative" || args.method === "medusa" ||
    args.method === "eagle";
  if (args.draftThreads !== undefined) {
    if (!twoSessions) {
      throw new UsageError(
        `--draft-threads is only used by --method speculative, medusa or eagle, not ${args.method}`,
        cmd,
      );
    }
    request.draftThreads = args.draftThreads;
  } else if (args.method === "speculative") {
    // The small draft's ops are too short to gain from a second thread; synchronising the
    // threads costs it more (a quick A/B on 2 cores: target on all cores + draft on 1 beat
    // both on all cores). Medusa heads keep `--threads`: not measured.
    request.draftThreads = DEFAULT_DRAFT_THREADS;
  }
  // Two sessions alternate (draft and target, base and heads): idle threads spinning in both
  // steal the cores the other needs. A 1-thread draft or heads session has no thread pool, so
  // then only the target's workers spin, which the benchmark's thread probe measured fastest.
  // One session (ar, lookup): nothing else runs between its forwards, so its idle threads
  // spin (the benchmark measured autoregressive decoding faster with spinning on).
  request.spinning = twoSessions ? request.draftThreads === 1 : true;
  if (args.weights !== undefined) request.weights = args.weights;
  // Plain decoding verifies nothing: the one-row kernels (faster at q8/q4) are fine.
  if (args.method === "ar") request.batchInvariant = args.batchInvariant;
  if (args.draftWeights !== undefined) {
    if (args.method !== "speculative") {
      throw new UsageError(
        `--draft-weights is only used by --method speculative, not ${args.method}`,
        cmd,
      );
    }
    request.draftWeights = args.draftWeights;
  }
  if (args.method === "speculative") {
    if (args.draft === undefined && args.model !== undefined) {
      throw new UsageError("--method speculative needs --draft DIR with --model", cmd);
    }
    request.draft = await resolveModelDir(args.draft, "bench-draft", "--draft", cmd);
  } else if (args.draft !== undefined) {
    throw new UsageError(`--draft is only used by --method speculative, not ${args.method}`, cmd);
  }
  if (args.method === "medusa") {
    const medusa = args.medusa ?? `${model}/medusa`;
    if (!(await isDir(medusa))) {
      throw new UsageError(`--medusa: Medusa heads folder not found: ${medusa}`, cmd);
    }
    request.medusa = medusa;
  } else if (args.medusa !== undefined) {
    throw new UsageError(`--medusa is only used by --method medusa, not ${args.method}`, cmd);
  }
  if (args.method === "eagle") {
    const eagle = args.eagle ?? `${model}/eagle`;
    if (!(await isModelDir(eagle))) {
      throw new UsageError(
        args.eagle === undefined
          ? `--method eagle needs EAGLE weights: no ${eagle}/config.json (pass --eagle DIR)`
          : `--eagle: no EAGLE head (config.json) in ${eagle}`,
        cmd,
      );
    }
    request.eagle = eagle;
  } else if (args.eagle !== undefined) {
    throw new UsageError(`--eagle is only used by --method eagle, not ${args.method}`, cmd);
  }
  if (args.tree !== undefined && args.method !== "medusa" && args.method !== "eagle") {
    throw new UsageError(
      `--tree is only used by --method medusa or eagle, not ${args.method}`,
      cmd,
    );
  }
  if (
    args.k !== undefined && args.method !== "speculative" && args.method !== "lookup" &&
    args.method !== "eagle"
  ) {
    throw new UsageError(`--k is only used by --method speculative, lookup or eagle`, cmd);
  }
  return request;
}

async function readPrompt(args: GenerateArgs, io: CliIO): Promise<string> {
  if (args.prompt !== undefined && args.prompt !== "-") {
    if (args.prompt.length === 0) throw new UsageError("the prompt is empty", "generate");
    return args.prompt;
  }
  if (io.stdinIsTerminal) {
    throw new UsageError("no prompt: pass it as an argument or pipe it on stdin", "generate");
  }
  const text = await io.readStdin();
  if (text.length === 0) throw new UsageError("the prompt read from stdin is empty", "generate");
  return text;
}
