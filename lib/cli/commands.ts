/**
 * The CLI's commands over a {@linkcode CliBackend}: `generate` (one prompt in, streamed text
 * out, a one-line summary on stderr or one JSON object with `--json`), `demo` (a code prompt
 * decoded autoregressively on the bundled checkpoints, then with the fastest measured lossless
 * method, and the comparison) and `serve` (one model set behind the OpenAI API until SIGINT/SIGTERM); the
 * checks of the model folders their flags name (a missing folder is a {@linkcode UsageError}).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { SpecDecError } from "../runtime/errors.ts";
import { parseHubId } from "../model/hub/hub_id.ts";
import { formatNumber } from "../util/format_number.ts";
import { ProgressBar } from "../util/progress_bar.ts";
import { OpenAIServer } from "../server/openai_server.ts";
import {
  DEFAULT_DRAFT_THREADS,
  type DemoArgs,
  type GenerateArgs,
  type ServeArgs,
  UsageError,
} from "./args.ts";
import type {
  CliBackend,
  CliGeneration,
  DecoderSettings,
  LoadedModels,
  LoadRequest,
} from "./models.ts";
import { type CliIO, fix, pct, summaryFigures, summaryLine, toJsonValue } from "./output.ts";
import { MEASURED_DEFAULTS, type SpeculativeMethod } from "./measured_defaults.ts";

// --- generate ---

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
 * @example Running generate over the tiny checkpoints, output captured
 * ```ts
 * import { type CliIO, generateCommand, onnxBackend, parseCliArgs } from "@specdec/specdec/cli";
 * let out = "";
 * const io: CliIO = {
 *   writeOut: (t) => Promise.resolve(void (out += t)),
 *   writeErr: () => Promise.resolve(),
 *   stderrIsTerminal: false,
 *   stdinIsTerminal: true,
 *   readStdin: () => Promise.resolve(""),
 * };
 * const cmd = parseCliArgs([
 *   "generate", "--model", "models/tiny-target", "--draft", "models/tiny-draft",
 *   "--max-new-tokens", "8", "def add(a, b):",
 * ]);
 * if (cmd.command !== "generate") throw new Error("unexpected");
 * if (await generateCommand(cmd.args, io, onnxBackend()) !== 0 || out === "") {
 *   throw new Error("unexpected");
 * }
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
  if (args.lookup !== undefined) settings.lookup = args.lookup;
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
async function loadOrExplain(
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
    const medusa = args.medusa ?? await headsOf(model, "medusa");
    if (!(await isDir(medusa)) && !(await isHubId(medusa))) {
      throw new UsageError(`--medusa: Medusa heads folder not found: ${medusa}`, cmd);
    }
    request.medusa = medusa;
  } else if (args.medusa !== undefined) {
    throw new UsageError(`--medusa is only used by --method medusa, not ${args.method}`, cmd);
  }
  if (args.method === "eagle") {
    const eagle = args.eagle ?? await headsOf(model, "eagle");
    if (!(await isModelDir(eagle)) && !(await isHubId(eagle))) {
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
  if (args.lookup !== undefined && (args.method === "ar" || args.method === "lookup")) {
    throw new UsageError(
      `--lookup is only used by --method speculative, medusa or eagle (--method lookup takes --k)`,
      cmd,
    );
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

// --- demo ---

/** The built-in code prompt (Python, the bench models' language). */
const DEMO_PROMPT = `def binary_search(items, target):
    """Return the index of target in the sorted list items, or -1."""
    lo, hi = 0, len(items) - 1
    while lo <= hi:
`;

/**
 * Runs `demo`: the prompt decoded autoregressively, then with the fastest lossless method the
 * benchmark report measured on the bench pair at `--weights` ({@linkcode MEASURED_DEFAULTS}'s
 * `fastest`; draft-target when `--draft` is given), and the comparison.
 *
 * @param args Parsed `demo` options.
 * @param io Terminal streams.
 * @param backend Model loader and decoder factory.
 * @param signal Aborts generation.
 * @returns The exit code (0).
 * @throws {UsageError} When no checkpoints are found.
 *
 * @example Running the demo on the tiny checkpoints, output captured
 * ```ts
 * import { type CliIO, demoCommand, onnxBackend, parseCliArgs } from "@specdec/specdec/cli";
 * let out = "";
 * const io: CliIO = {
 *   writeOut: (t) => Promise.resolve(void (out += t)),
 *   writeErr: (t) => Promise.resolve(void (out += t)),
 *   stderrIsTerminal: false,
 *   stdinIsTerminal: true,
 *   readStdin: () => Promise.resolve(""),
 * };
 * const cmd = parseCliArgs(["demo", "--model", "models/tiny-target", "--max-new-tokens", "8"]);
 * if (cmd.command !== "demo") throw new Error("unexpected");
 * if (await demoCommand(cmd.args, io, onnxBackend()) !== 0 || !out.includes("identical")) {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export async function demoCommand(
  args: DemoArgs,
  io: CliIO,
  backend: CliBackend,
  signal?: AbortSignal,
): Promise<number> {
  const { request, method } = await demoModels(args, io);
  const sink = { write: (t: string) => io.writeErr(t), isTerminal: io.stderrIsTerminal };
  const stage = <T>(label: string, work: () => Promise<T>): Promise<T> =>
    new ProgressBar(label, sink).wrap(work);
  using models = await backend.load(request, stage);

  const prompt = args.prompt ?? DEMO_PROMPT;
  const settings: DecoderSettings = { temperature: 0, maxNewTokens: args.maxNewTokens, stop: [] };
  // --k is a chain length: draft-target's and prompt lookup's K (the others keep their trees).
  if (args.k !== undefined && (method === "speculative" || method === "lookup")) {
    settings.k = args.k;
  }
  const options = signal !== undefined ? { signal } : {};
  const fast = makeDecoder(() => models.decoder(method, settings), "demo");
  const autoregressive = models.decoder("ar", settings);

  // Warm-up: the first runs pay one-off session costs; keep them out of the comparison.
  const warm = { ...settings, maxNewTokens: Math.min(4, settings.maxNewTokens) };
  await new ProgressBar("warming up", sink).wrap(async () => {
    await models.decoder("ar", warm).generate(prompt, options);
    await models.decoder(method, warm).generate(prompt, options);
  });

  const write = (piece: string): Promise<void> => io.writeOut(piece);
  await io.writeOut("--- autoregressive, greedy: prompt + completion ---\n");
  await io.writeOut(prompt);
  const ar = await autoregressive.generate(prompt, { ...options, onText: write });
  await io.writeOut(`\n--- ${fast.description}, greedy: the same prompt's completion ---\n`);
  const spec = await fast.generate(prompt, { ...options, onText: write });
  await io.writeOut(`\n\n${comparison(spec, ar, fast.description)}`);
  return 0;
}

/**
 * Picks the demo's method and models: `--model` with `--draft` runs draft-target; otherwise the
 * measured fastest at `--weights` over `--model` or the bundled bench checkpoints (the tiny ones
 * with a notice), falling back to prompt lookup (which needs nothing beyond the target) when the
 * folders lack what the fastest needs.
 */
async function demoModels(
  args: DemoArgs,
  io: CliIO,
): Promise<{ request: LoadRequest; method: SpeculativeMethod }> {
  const cmd = "demo";
  let method: SpeculativeMethod = args.draft !== undefined
    ? "speculative"
    : MEASURED_DEFAULTS[args.weights ?? "f32"].fastest;
  let model: string;
  let draft: string | undefined;
  if (args.model !== undefined) {
    model = await requireModelDir(args.model, "--model", cmd);
    if (args.draft !== undefined) draft = await requireModelDir(args.draft, "--draft", cmd);
  } else {
    if (args.draft !== undefined) {
      throw new UsageError("--draft needs --model (the target it drafts for)", cmd);
    }
    const pick = async (target: string, drafter: string) => {
      const t = bundledModelDir(target);
      const d = bundledModelDir(drafter);
      return t !== undefined && d !== undefined && await isModelDir(t) && await isModelDir(d)
        ? { t, d }
        : undefined;
    };
    const bench = await pick("bench-target", "bench-draft");
    const tiny = bench === undefined ? await pick("tiny-target", "tiny-draft") : undefined;
    const found = bench ?? tiny;
    if (found === undefined) {
      throw new UsageError(
        "no bundled checkpoints in models/ (bench-target/bench-draft or tiny-target/tiny-draft); pass --model",
        cmd,
      );
    }
    if (bench === undefined) {
      await io.writeErr(
        "notice: models/bench-target or models/bench-draft not found; using the tiny checkpoints\n",
      );
    }
    model = found.t;
    draft = found.d;
  }
  const request: LoadRequest = { model };
  const heads = method === "medusa" || method === "eagle" ? `${model}/${method}` : undefined;
  if (method === "speculative" && draft !== undefined) request.draft = draft;
  else if (method === "medusa" && heads !== undefined && await isDir(heads)) request.medusa = heads;
  else if (method === "eagle" && heads !== undefined && await isModelDir(heads)) {
    request.eagle = heads;
  } else if (method !== "lookup") {
    await io.writeErr(
      `notice: no ${
        method === "speculative" ? "draft" : heads
      } for ${method}; showing prompt lookup\n`,
    );
    method = "lookup";
  }
  // Two sessions alternate (draft and target, base and heads): the small draft on one thread
  // unless asked otherwise, and then only the target's idle threads spin (see generate above).
  // One session (lookup): its idle threads spin.
  if (method === "lookup") {
    request.spinning = true;
  } else {
    const draftThreads = args.draftThreads ??
      (method === "speculative" ? DEFAULT_DRAFT_THREADS : undefined);
    if (draftThreads !== undefined) request.draftThreads = draftThreads;
    request.spinning = draftThreads === 1;
  }
  if (args.threads !== undefined) request.threads = args.threads;
  if (args.weights !== undefined) request.weights = args.weights;
  if (args.draftWeights !== undefined) request.draftWeights = args.draftWeights;
  return { request, method };
}

function comparison(spec: CliGeneration, ar: CliGeneration, specName: string): string {
  const s = summaryFigures(spec.metrics, spec.tokens.length);
  const a = summaryFigures(ar.metrics, ar.tokens.length);
  const speedup = a.tokensPerSecond > 0 ? s.tokensPerSecond / a.tokensPerSecond : undefined;
  const rows = [
    ["method", "tokens", "tok/s", "acceptance", "τ", "speedup"],
    [
      "autoregressive",
      `${a.newTokens}`,
      formatNumber.tokensPerSecond(a.tokensPerSecond),
      "-",
      "1.00",
      formatNumber.ratio(1),
    ],
    [
      specName,
      `${s.newTokens}`,
      formatNumber.tokensPerSecond(s.tokensPerSecond),
      pct(s.acceptanceRate),
      fix(s.meanAcceptedLength),
      formatNumber.ratio(speedup),
    ],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
  const same = spec.tokens.length === ar.tokens.length &&
    spec.tokens.every((t, i) => t === ar.tokens[i]);
  lines.push("");
  lines.push(
    same
      ? `outputs identical: yes (${spec.tokens.length} tokens; greedy speculative decoding is lossless)`
      : `outputs identical: NO (speculative ${spec.tokens.length} tokens, autoregressive ${ar.tokens.length}; first difference at token ${
        firstDifference(spec.tokens, ar.tokens)
      })`,
  );
  return `${lines.join("\n")}\n`;
}

function firstDifference(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

// --- serve ---

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
 * @example Serving the tiny checkpoints on a free port, then stopping
 * ```ts
 * import { type CliIO, onnxBackend, parseCliArgs, serveCommand } from "@specdec/specdec/cli";
 * let err = "";
 * const io: CliIO = {
 *   writeOut: () => Promise.resolve(),
 *   writeErr: (t) => Promise.resolve(void (err += t)),
 *   stderrIsTerminal: false,
 *   stdinIsTerminal: true,
 *   readStdin: () => Promise.resolve(""),
 * };
 * const cmd = parseCliArgs([
 *   "serve", "--port", "0", "--model", "models/tiny-target", "--draft", "models/tiny-draft",
 * ]);
 * if (cmd.command !== "serve") throw new Error("unexpected");
 * const stop = new AbortController();
 * const served = serveCommand(cmd.args, io, onnxBackend(), stop.signal);
 * while (!/http:\/\/127\.0\.0\.1:\d+/.test(err)) await new Promise((r) => setTimeout(r, 50));
 * const base = /http:\/\/127\.0\.0\.1:\d+/.exec(err)![0];
 * const health = await (await fetch(`${base}/health`)).json();
 * stop.abort(); // as SIGINT does: finish or cancel in-flight requests, close the sessions
 * if ((await served) !== 0 || health.status !== "ok") throw new Error("unexpected");
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
    if (!(await isDir(args.medusa)) && !(await isHubId(args.medusa))) {
      throw new UsageError(`--medusa: Medusa heads folder not found: ${args.medusa}`, cmd);
    }
    request.medusa = args.medusa;
  } else if (await isDir(`${model}/medusa`)) {
    request.medusa = `${model}/medusa`;
  }
  if (args.eagle !== undefined) {
    if (!(await isModelDir(args.eagle)) && !(await isHubId(args.eagle))) {
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

// --- model folders given on the command line ---

/**
 * Folder of a bundled checkpoint under the repository's `models/`, or
 * `undefined` when this module was not loaded from a local file.
 */
function bundledModelDir(name: string): string | undefined {
  const url = new URL(`../../models/${name}`, import.meta.url);
  if (url.protocol !== "file:") return undefined;
  return fileURLToPath(url);
}

/** True when `dir` is a folder holding `config.json`. */
async function isModelDir(dir: string): Promise<boolean> {
  try {
    const info = await Deno.stat(`${dir}/config.json`);
    return info.isFile;
  } catch {
    return false;
  }
}

/** True when `dir` exists and is a folder. */
async function isDir(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(dir)).isDirectory;
  } catch {
    return false;
  }
}

/** True when `value` names no local folder but is shaped like a hub id (the loaders fetch it). */
async function isHubId(value: string): Promise<boolean> {
  return !(await isDir(value)) && parseHubId(value) !== undefined;
}

/**
 * Where a model's heads are by default: its `name/` folder, or for a hub id the `name/` folder
 * of the same repository at the same revision (`org/m@v1` -> `org/m/eagle@v1`).
 */
async function headsOf(model: string, name: string): Promise<string> {
  const id = await isHubId(model) ? parseHubId(model) : undefined;
  if (id === undefined) return `${model}/${name}`;
  const sub = id.subfolder === "" ? name : `${id.subfolder}/${name}`;
  return `${id.repo}/${sub}@${id.revision}`;
}

/**
 * Checks a model folder given by a flag: it must exist and hold `config.json`.
 * Throws a one-line {@link UsageError} naming the flag and the path.
 */
async function requireModelDir(dir: string, flag: string, command: string): Promise<string> {
  if (!(await isDir(dir))) {
    if (parseHubId(dir) !== undefined) return dir; // a hub id: the loaders fetch it
    throw new UsageError(`${flag}: model folder not found: ${dir}`, command);
  }
  if (!(await isModelDir(dir))) {
    throw new UsageError(`${flag}: no config.json in model folder ${dir}`, command);
  }
  return dir;
}

/** Resolves `flagValue` or a bundled checkpoint, checking that it exists. */
async function resolveModelDir(
  flagValue: string | undefined,
  bundled: string,
  flag: string,
  command: string,
): Promise<string> {
  if (flagValue !== undefined) return await requireModelDir(flagValue, flag, command);
  const dir = bundledModelDir(bundled);
  if (dir === undefined || !(await isModelDir(dir))) {
    throw new UsageError(
      `bundled checkpoint models/${bundled} not found; pass ${flag} DIR`,
      command,
    );
  }
  return dir;
}

/**
 * Creates a decoder, turning its argument checks (`TypeError`/`RangeError`
 * naming a parameter) into usage errors: they come from the user's flags.
 */
function makeDecoder<T>(create: () => T, command: string): T {
  try {
    return create();
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) {
      throw new UsageError(err.message, command);
    }
    throw err;
  }
}
