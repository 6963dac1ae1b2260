/**
 * The CLI's command line: the help texts, the parsed form of each command
 * ({@linkcode CliCommand}), {@linkcode parseCliArgs} (`node:util` `parseArgs` in strict mode)
 * and {@linkcode UsageError}, which every mistake becomes: one line naming the flag, exit
 * code 2, never a stack trace.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { WEIGHT_PRECISIONS, type WeightPrecision } from "../model/graph/quantize_blockwise.ts";

// --- usage errors ---

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

// --- help texts ---

/** `specdec --help`. */
export const MAIN_USAGE =
  `specdec: lossless speculative decoding for language models (Deno + ONNX Runtime)

Usage:
  deno run -A mod.ts <command> [options]

Commands:
  generate [PROMPT]   Generate a continuation (prompt as argument or on stdin)
  demo                Complete a code prompt with speculative decoding and compare
                      it with autoregressive decoding of the same prompt
  serve               An OpenAI-compatible HTTP server (/v1/completions,
                      /v1/chat/completions) whose requests choose their speculation

Options:
  -h, --help          Show help (also: mod.ts <command> --help)
  -V, --version       Show the version

Permissions: --allow-ffi --allow-read --allow-write --allow-env --allow-run
(or -A). Models default to the bundled checkpoints in models/.
`;

/** `specdec generate --help`. */
export const GENERATE_USAGE = `Usage: deno run -A mod.ts generate [options] [PROMPT]

Generates a continuation of PROMPT (read from stdin when absent or "-"),
streaming text to stdout as tokens are accepted and printing a one-line
summary (tokens/s, acceptance, τ) on stderr. Greedy output is identical for
every method; sampled output follows the target's distribution exactly.

Models:
  -m, --model DIR           Target model folder (default: models/bench-target)
      --draft DIR           Draft model for --method speculative
                            (default: models/bench-draft with the default model)
      --medusa DIR          Medusa heads folder (default: <model>/medusa)
      --eagle DIR           EAGLE head folder (default: <model>/eagle)
  A model or heads given as a hub id, org/name[/subfolder][@revision], are
  fetched once from HF_ENDPOINT into the Hugging Face cache (HF_HUB_CACHE;
  HF_TOKEN, HF_HUB_OFFLINE); a hub --model's heads default to its
  medusa/ and eagle/ subfolders.

Decoding:
      --method METHOD       ar | speculative | medusa | eagle | lookup
                            (default: speculative)
      --k N                 Draft tokens per step, 1-32 (speculative, lookup; eagle:
                            a chain of N, or with --tree the tree's depth)
      --tree N              Tree size in nodes: Medusa's (e.g. 4, 8, 16, 64) or
                            EAGLE-2's dynamic tree (1-128)
      --lookup N            Prompt-lookup branch (speculative, medusa, eagle): up
                            to N tokens, 0-64, copied from an earlier occurrence of
                            the context's last n-gram join each step's draft,
                            verified in the same forward (0 = none)
                            (--k, --tree, --lookup default: the benchmark report's
                            best setting at --weights)
  -n, --max-new-tokens N    Tokens to generate at most (default: 128)
      --stop TEXT           Stop when TEXT is generated (repeatable; \\n escapes)
      --max-length N        Context in tokens, prompt + generation, up to the
                            model's max_position_embeddings (default: 1024 or less)

Prompt:
      --chat                The prompt is one user message, rendered with the
                            model's chat template (tokenizer_config.json)
      --system TEXT         A system message before it (with --chat)
      --no-bos              Never prepend BOS (default: as the tokenizer does,
                            like transformers' tokenizer(text))

Sampling:
  -t, --temperature X       0 = greedy (default), > 0 samples
      --top-k N             Keep the N most likely tokens (0 = off)
      --top-p P             Nucleus sampling, P in (0, 1]
      --seed N              PRNG seed, for reproducible sampling

Output and runtime:
      --json                Print one JSON object {text, tokens, prompt_tokens, metrics}
      --threads N           ONNX Runtime intra-op threads of the target
                            (default: all cores)
      --draft-threads N     Intra-op threads of the draft (--method speculative,
                            default: 1) or of the Medusa or EAGLE heads (--method
                            medusa or eagle, default: --threads)
      --weights P           Weight precision of the target: f32 (default), q8 or q4
                            (block-wise quantized at load time, then cached)
      --draft-weights P     Weight precision of the draft or of the Medusa or
                            EAGLE heads (default: the measured best for the
                            method, else --weights)
      --batch-invariant     --method ar with the numerics the speculative methods
                            verify with at q8/q4 (their output equals it exactly)
  -h, --help                Show this help

Exit codes: 0 ok, 1 runtime error, 2 usage error.

Examples:
  deno run -A mod.ts generate "def fibonacci(n):"
  echo "import os" | deno run -A mod.ts generate --method medusa --json
  deno run -A mod.ts generate --method eagle --tree 8 "def parse(line):"
  deno run -A mod.ts generate --method ar -t 0.8 --seed 7 "class Stack:"
`;

/** `specdec serve --help`. */
export const SERVE_USAGE = `Usage: deno run -A mod.ts serve [options]

Serves one model set over an OpenAI-compatible HTTP API:
  GET  /v1/models            the model (its name: --name, default the folder name)
  POST /v1/completions       { model, prompt, max_tokens, stop, temperature, top_p,
                               seed, stream, speculation }
  POST /v1/chat/completions  { model, messages, ... } (the model's chat template)
  GET  /health               { status, running, queued, served, cancelled }
A request chooses its decoding with the extension field
  "speculation": { "method": "ar" | "speculative" | "medusa" | "eagle" | "lookup",
                   "k": 3, "tree": 8, "lookup": 8 }
(k: draft tokens per step; tree: Medusa or EAGLE tree nodes; lookup: the
prompt-lookup branch of speculative, medusa and eagle, 0 = none)
and gets its acceptance metrics back in "speculation" (non-streaming: the response;
streaming: the last chunk). Requests run one at a time, in order; a full queue
answers 503 with Retry-After; a client that disconnects cancels its generation.

Options:
  -m, --model DIR           Target model folder (default: models/bench-target)
      --draft DIR           Draft model (enables "speculative"; default:
                            models/bench-draft with the default model)
      --medusa DIR          Medusa heads (enables "medusa"; default:
                            <model>/medusa when it exists)
      --eagle DIR           EAGLE head (enables "eagle"; default:
                            <model>/eagle when it exists)
                            (each of these may be a hub id: see generate --help)
      --host HOST           Address to listen on (default: 127.0.0.1)
  -p, --port N              Port (default: 8080; 0 picks a free one)
      --queue-size N        Requests waiting behind the running one (default: 16)
      --name NAME           Model name clients send (default: the folder name)
      --max-length N        Context in tokens (default: 1024 or less)
      --threads N           ONNX Runtime intra-op threads of the target
      --draft-threads N     Intra-op threads of the draft or Medusa heads
      --weights P           Weight precision of the target: f32 (default), q8, q4
      --draft-weights P     Weight precision of the draft or of the Medusa or
                            EAGLE heads (default: the measured best for the
                            method, else --weights)
  -h, --help                Show this help

SIGINT or SIGTERM stops accepting requests, cancels the running one and closes
the sessions. Permissions: --allow-net besides the CLI's.
`;

/** `specdec demo --help`. */
export const DEMO_USAGE = `Usage: deno run -A mod.ts demo [options]

Completes a code prompt autoregressively (greedy) on the bundled bench
checkpoints (falling back to the tiny ones with a notice), then with the fastest
lossless method the benchmark report measured at --weights (today prompt
lookup), and prints both completions and speeds, the acceptance rate, τ, the
speedup and whether the outputs are identical.

Options:
  -m, --model DIR           Target model folder (default: models/bench-target)
      --draft DIR           Draft model folder: show draft-target with it
                            (needs --model)
  -p, --prompt TEXT         Prompt to complete (default: a built-in code prompt)
      --k N                 Draft tokens per step (draft-target, prompt lookup)
  -n, --max-new-tokens N    Tokens to generate (default: 96)
      --threads N           ONNX Runtime intra-op threads of the target
                            (default: all cores)
      --draft-threads N     Intra-op threads of the draft (default: 1)
      --weights P           Weight precision of the target: f32 (default), q8, q4
      --draft-weights P     Weight precision of the draft or of the Medusa or
                            EAGLE heads (default: the measured best for the
                            method, else --weights)
  -h, --help                Show this help
`;

// --- parsing ---

/** Decoding methods the CLI offers: `--method ar|speculative|medusa|eagle|lookup`. */
export type DecodingMethod = "ar" | "speculative" | "medusa" | "eagle" | "lookup";

/** Parsed options of `generate`. Absent numbers mean "the decoder's default". */
export interface GenerateArgs {
  /** The prompt (positional argument); `undefined` or `"-"` means read stdin. */
  prompt: string | undefined;
  /** Target model folder (`--model`); `undefined` means the bundled bench checkpoint. */
  model: string | undefined;
  /** Draft model folder (`--draft`) for `--method speculative`. */
  draft: string | undefined;
  /** Medusa heads folder (`--medusa`); defaults to `<model>/medusa`. */
  medusa: string | undefined;
  /** EAGLE head folder (`--eagle`) for `--method eagle`; defaults to `<model>/eagle`. */
  eagle: string | undefined;
  /** Decoding method (`--method`), default `speculative`. */
  method: DecodingMethod;
  /** Speculation length K (`--k`): draft tokens per step (speculative, lookup, EAGLE chain). */
  k: number | undefined;
  /** Tree size in nodes (`--tree`): Medusa's tree, or EAGLE's dynamic tree. */
  tree: number | undefined;
  /** Prompt-lookup branch tokens (`--lookup`, speculative, medusa, eagle); 0 = none. */
  lookup: number | undefined;
  /** Sampling temperature (`--temperature`), 0 = greedy (default). */
  temperature: number;
  /** Top-k filter (`--top-k`), 0 = off. */
  topK: number | undefined;
  /** Nucleus filter (`--top-p`), in (0, 1]. */
  topP: number | undefined;
  /** PRNG seed (`--seed`). */
  seed: number | undefined;
  /** Tokens to generate at most (`--max-new-tokens`), default 128. */
  maxNewTokens: number;
  /** Stop strings (`--stop`, repeatable). */
  stop: string[];
  /** Print one JSON object instead of streaming text (`--json`). */
  json: boolean;
  /** ONNX Runtime intra-op threads of the target session (`--threads`). */
  threads: number | undefined;
  /**
   * ONNX Runtime intra-op threads of the draft (speculative) or Medusa heads session
   * (`--draft-threads`); `undefined` means the command's default.
   */
  draftThreads: number | undefined;
  /**
   * KV capacity in tokens (`--max-length`), up to the model's `max_position_embeddings`;
   * `undefined`: 1024 or the model's (and the draft's) smaller context.
   */
  maxLength: number | undefined;
  /** `false` with `--no-bos`: never prepend BOS; `undefined`: as the tokenizer does. */
  bos: boolean | undefined;
  /** `--chat`: the prompt is one user message rendered with the chat template. */
  chat: boolean;
  /** `--system TEXT`: a system message before the user's (with `--chat`). */
  system: string | undefined;
  /** Weight precision of the target and heads (`--weights`); `undefined`: f32. */
  weights: WeightPrecision | undefined;
  /** Weight precision of the draft or heads (`--draft-weights`); `undefined`: the measured default. */
  draftWeights: WeightPrecision | undefined;
  /**
   * `--batch-invariant`: `--method ar` at q8/q4 with the numerics speculative methods verify
   * with (one-token forwards padded to two rows), so its output equals theirs.
   */
  batchInvariant: boolean;
}

/** Parsed options of `serve`. */
export interface ServeArgs {
  /** Target model folder (`--model`); `undefined` means the bundled bench checkpoint. */
  model: string | undefined;
  /** Draft model folder (`--draft`); enables `speculation.method: "speculative"`. */
  draft: string | undefined;
  /** Medusa heads folder (`--medusa`); enables `"medusa"`. */
  medusa: string | undefined;
  /** EAGLE head folder (`--eagle`); enables `"eagle"`; default `<model>/eagle` when it exists. */
  eagle: string | undefined;
  /** Host to listen on (`--host`), default `127.0.0.1`. */
  host: string;
  /** Port (`--port`), default 8080; 0 picks a free one. */
  port: number;
  /** Requests waiting behind the running one before 503 (`--queue-size`), default 16. */
  queueSize: number;
  /** Model name clients send and `/v1/models` lists (`--name`); default the folder name. */
  name: string | undefined;
  /** KV capacity in tokens (`--max-length`). */
  maxLength: number | undefined;
  /** ONNX Runtime intra-op threads of the target session (`--threads`). */
  threads: number | undefined;
  /** Intra-op threads of the draft or Medusa heads session (`--draft-threads`). */
  draftThreads: number | undefined;
  /** Weight precision of the target and heads (`--weights`); `undefined`: f32. */
  weights: WeightPrecision | undefined;
  /** Weight precision of the draft or heads (`--draft-weights`); `undefined`: the measured default. */
  draftWeights: WeightPrecision | undefined;
}

/** Parsed options of `demo`. */
export interface DemoArgs {
  /** Target model folder (`--model`); `undefined` means the bundled bench checkpoint. */
  model: string | undefined;
  /**
   * Draft model folder (`--draft`, with `--model`): the demo shows draft-target; `undefined`: the
   * measured fastest method (the bundled bench draft when that is draft-target).
   */
  draft: string | undefined;
  /** Code prompt to complete (`--prompt`); `undefined` means the built-in one. */
  prompt: string | undefined;
  /** Speculation length K (`--k`). */
  k: number | undefined;
  /** Tokens to generate (`--max-new-tokens`), default 96. */
  maxNewTokens: number;
  /** ONNX Runtime intra-op threads of the target session (`--threads`). */
  threads: number | undefined;
  /** ONNX Runtime intra-op threads of the draft session (`--draft-threads`); `undefined`: 1. */
  draftThreads: number | undefined;
  /** Weight precision of the target (`--weights`); `undefined`: f32. */
  weights: WeightPrecision | undefined;
  /** Weight precision of the draft or heads (`--draft-weights`); `undefined`: the measured default. */
  draftWeights: WeightPrecision | undefined;
}

/** What the command line asks for. */
export type CliCommand =
  | { command: "help"; topic: "main" | "generate" | "demo" | "serve" }
  | { command: "version" }
  | { command: "generate"; args: GenerateArgs }
  | { command: "demo"; args: DemoArgs }
  | { command: "serve"; args: ServeArgs };

/** Default number of generated tokens for `generate`. */
const GENERATE_MAX_NEW_TOKENS = 128;
/** Default number of generated tokens for `demo`. */
const DEMO_MAX_NEW_TOKENS = 96;
/** Largest `--k` the CLI accepts (decoders may state a smaller limit). */
const MAX_K = 32;
/**
 * Draft session threads of `generate --method speculative` and `demo` without
 * `--draft-threads`: the small draft's ops are too short to gain from more
 * threads, whose synchronisation costs it more (the target keeps `--threads`).
 */
export const DEFAULT_DRAFT_THREADS = 1;
/** Largest `--threads` / `--draft-threads` the CLI accepts. */
const MAX_THREADS = 1024;
/** Largest `--max-length` the CLI accepts (the model's max_position_embeddings decides too). */
const MAX_LENGTH = 1 << 20;

const METHODS: readonly DecodingMethod[] = ["ar", "speculative", "medusa", "eagle", "lookup"];

/**
 * Parses the CLI's arguments (without the program name).
 *
 * @param argv Arguments, e.g. `Deno.args`.
 * @returns The command to run with its options.
 * @throws {UsageError} On an unknown command or flag, a bad number, a missing value.
 *
 * @example Parsing a generate command
 * ```ts
 * import { parseCliArgs } from "@specdec/specdec/cli";
 * const cmd = parseCliArgs(["generate", "--k", "4", "def add(a, b):"]);
 * if (cmd.command !== "generate" || cmd.args.k !== 4) throw new Error("unexpected");
 * ```
 */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  const [first, ...rest] = argv;
  if (first === undefined || first === "help" || first === "-h" || first === "--help") {
    const topic = rest[0];
    if (first === "help" && (topic === "generate" || topic === "demo" || topic === "serve")) {
      return { command: "help", topic };
    }
    return { command: "help", topic: "main" };
  }
  if (first === "--version" || first === "-V" || first === "version") return { command: "version" };
  if (first === "generate") return parseGenerate(rest);
  if (first === "demo") return parseDemo(rest);
  if (first === "serve") return parseServe(rest);
  if (first.startsWith("-")) {
    throw new UsageError(
      `unknown option '${first}' before the command (expected generate, demo or serve)`,
    );
  }
  throw new UsageError(`unknown command '${first}' (expected generate, demo or serve)`);
}

function parseGenerate(argv: string[]): CliCommand {
  const { values, positionals } = strictParse(argv, "generate", {
    model: { type: "string", short: "m" },
    draft: { type: "string" },
    medusa: { type: "string" },
    eagle: { type: "string" },
    method: { type: "string" },
    k: { type: "string" },
    tree: { type: "string" },
    lookup: { type: "string" },
    temperature: { type: "string", short: "t" },
    "top-k": { type: "string" },
    "top-p": { type: "string" },
    seed: { type: "string" },
    "max-new-tokens": { type: "string", short: "n" },
    stop: { type: "string", multiple: true },
    json: { type: "boolean" },
    threads: { type: "string" },
    "draft-threads": { type: "string" },
    weights: { type: "string" },
    "draft-weights": { type: "string" },
    "max-length": { type: "string" },
    "no-bos": { type: "boolean" },
    chat: { type: "boolean" },
    system: { type: "string" },
    "batch-invariant": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) return { command: "help", topic: "generate" };
  if (values.system !== undefined && values.chat !== true) {
    throw new UsageError("--system is only used with --chat", "generate");
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `expected one prompt argument, got ${positionals.length} (quote the prompt)`,
      "generate",
    );
  }
  const method = str(values.method) ?? "speculative";
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new UsageError(
      `--method must be one of ${METHODS.join(", ")}, got '${method}'`,
      "generate",
    );
  }
  const cmd = "generate";
  return {
    command: "generate",
    args: {
      prompt: positionals[0],
      model: path(values.model, "--model", cmd),
      draft: path(values.draft, "--draft", cmd),
      medusa: path(values.medusa, "--medusa", cmd),
      eagle: path(values.eagle, "--eagle", cmd),
      method: method as DecodingMethod,
      k: int(values.k, "--k", cmd, 1, MAX_K),
      tree: int(values.tree, "--tree", cmd, 1, 256),
      lookup: int(values.lookup, "--lookup", cmd, 0, 64),
      temperature: num(values.temperature, "--temperature", cmd, 0) ?? 0,
      topK: int(values["top-k"], "--top-k", cmd, 0, Number.MAX_SAFE_INTEGER),
      topP: topP(values["top-p"], cmd),
      seed: int(values.seed, "--seed", cmd, 0, 2 ** 32 - 1),
      maxNewTokens: int(values["max-new-tokens"], "--max-new-tokens", cmd, 1, 1_000_000) ??
        GENERATE_MAX_NEW_TOKENS,
      stop: stopStrings(values.stop, cmd),
      json: values.json === true,
      threads: int(values.threads, "--threads", cmd, 1, MAX_THREADS),
      draftThreads: int(values["draft-threads"], "--draft-threads", cmd, 1, MAX_THREADS),
      weights: precision(values.weights, "--weights", cmd),
      draftWeights: precision(values["draft-weights"], "--draft-weights", cmd),
      maxLength: int(values["max-length"], "--max-length", cmd, 2, MAX_LENGTH),
      bos: values["no-bos"] === true ? false : undefined,
      chat: values.chat === true,
      system: str(values.system),
      batchInvariant: values["batch-invariant"] === true,
    },
  };
}

function parseServe(argv: string[]): CliCommand {
  const cmd = "serve";
  const { values, positionals } = strictParse(argv, cmd, {
    model: { type: "string", short: "m" },
    draft: { type: "string" },
    medusa: { type: "string" },
    eagle: { type: "string" },
    host: { type: "string" },
    port: { type: "string", short: "p" },
    "queue-size": { type: "string" },
    name: { type: "string" },
    "max-length": { type: "string" },
    threads: { type: "string" },
    "draft-threads": { type: "string" },
    weights: { type: "string" },
    "draft-weights": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) return { command: "help", topic: "serve" };
  if (positionals.length > 0) {
    throw new UsageError(`serve takes no positional arguments, got '${positionals[0]}'`, cmd);
  }
  const host = str(values.host) ?? "127.0.0.1";
  if (host.trim().length === 0) throw new UsageError("--host must not be empty", cmd);
  const name = str(values.name);
  if (name !== undefined && name.trim().length === 0) {
    throw new UsageError("--name must not be empty", cmd);
  }
  return {
    command: "serve",
    args: {
      model: path(values.model, "--model", cmd),
      draft: path(values.draft, "--draft", cmd),
      medusa: path(values.medusa, "--medusa", cmd),
      eagle: path(values.eagle, "--eagle", cmd),
      host,
      port: int(values.port, "--port", cmd, 0, 65535) ?? 8080,
      queueSize: int(values["queue-size"], "--queue-size", cmd, 0, 100_000) ?? 16,
      name,
      maxLength: int(values["max-length"], "--max-length", cmd, 2, MAX_LENGTH),
      threads: int(values.threads, "--threads", cmd, 1, MAX_THREADS),
      draftThreads: int(values["draft-threads"], "--draft-threads", cmd, 1, MAX_THREADS),
      weights: precision(values.weights, "--weights", cmd),
      draftWeights: precision(values["draft-weights"], "--draft-weights", cmd),
    },
  };
}

function parseDemo(argv: string[]): CliCommand {
  const { values, positionals } = strictParse(argv, "demo", {
    model: { type: "string", short: "m" },
    draft: { type: "string" },
    prompt: { type: "string", short: "p" },
    k: { type: "string" },
    "max-new-tokens": { type: "string", short: "n" },
    threads: { type: "string" },
    "draft-threads": { type: "string" },
    weights: { type: "string" },
    "draft-weights": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) return { command: "help", topic: "demo" };
  if (positionals.length > 0) {
    throw new UsageError(
      `demo takes no positional arguments, got '${positionals[0]}' (use --prompt)`,
      "demo",
    );
  }
  const cmd = "demo";
  const prompt = str(values.prompt);
  if (prompt !== undefined && prompt.length === 0) {
    throw new UsageError("--prompt must not be empty", cmd);
  }
  return {
    command: "demo",
    args: {
      model: path(values.model, "--model", cmd),
      draft: path(values.draft, "--draft", cmd),
      prompt,
      k: int(values.k, "--k", cmd, 1, MAX_K),
      maxNewTokens: int(values["max-new-tokens"], "--max-new-tokens", cmd, 1, 1_000_000) ??
        DEMO_MAX_NEW_TOKENS,
      threads: int(values.threads, "--threads", cmd, 1, MAX_THREADS),
      draftThreads: int(values["draft-threads"], "--draft-threads", cmd, 1, MAX_THREADS),
      weights: precision(values.weights, "--weights", cmd),
      draftWeights: precision(values["draft-weights"], "--draft-weights", cmd),
    },
  };
}

type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
>;

interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** `parseArgs` in strict mode, its errors turned into one-line usage errors. */
function strictParse(argv: string[], command: string, options: OptionSpec): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as Parsed["values"], positionals };
  } catch (err) {
    throw new UsageError(describeParseError(err), command);
  }
}

function describeParseError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const flag = /'(-[^' <]*)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag !== undefined) {
    return `unknown option '${flag}'`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag !== undefined) {
    if (message.includes("argument missing")) return `option '${flag}' needs a value`;
    if (message.includes("ambiguous")) {
      return `option '${flag}' needs a value (write ${flag}=VALUE for a value starting with '-')`;
    }
    if (message.includes("does not take an argument")) {
      return `option '${flag}' does not take a value`;
    }
  }
  return (message.split("\n")[0] ?? message).trim();
}

function precision(
  value: Parsed["values"][string],
  flag: string,
  command: string,
): WeightPrecision | undefined {
  const s = str(value);
  if (s === undefined) return undefined;
  if (!(WEIGHT_PRECISIONS as readonly string[]).includes(s)) {
    throw new UsageError(
      `${flag} must be one of ${WEIGHT_PRECISIONS.join(", ")}, got '${s}'`,
      command,
    );
  }
  return s as WeightPrecision;
}

function str(value: Parsed["values"][string]): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function path(
  value: Parsed["values"][string],
  flag: string,
  command: string,
): string | undefined {
  const s = str(value);
  if (s !== undefined && s.trim().length === 0) {
    throw new UsageError(`${flag} needs a folder path, got an empty string`, command);
  }
  return s;
}

function num(
  value: Parsed["values"][string],
  flag: string,
  command: string,
  min: number,
): number | undefined {
  const s = str(value);
  if (s === undefined) return undefined;
  const n = s.trim().length === 0 ? Number.NaN : Number(s);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got '${s}'`, command);
  if (n < min) throw new UsageError(`${flag} must be >= ${min}, got ${s}`, command);
  return n;
}

function int(
  value: Parsed["values"][string],
  flag: string,
  command: string,
  min: number,
  max: number,
): number | undefined {
  const s = str(value);
  if (s === undefined) return undefined;
  const n = /^[+]?\d+$/.test(s.trim()) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new UsageError(`${flag} must be an integer, got '${s}'`, command);
  }
  if (n < min || n > max) {
    const range = max >= Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${flag} must be ${range}, got ${n}`, command);
  }
  return n;
}

function topP(value: Parsed["values"][string], command: string): number | undefined {
  const p = num(value, "--top-p", command, Number.NEGATIVE_INFINITY);
  if (p !== undefined && !(p > 0 && p <= 1)) {
    throw new UsageError(`--top-p must be in (0, 1], got ${p}`, command);
  }
  return p;
}

function stopStrings(value: Parsed["values"][string], command: string): string[] {
  const list = Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  for (const s of list) {
    if (s.length === 0) throw new UsageError("--stop must not be an empty string", command);
  }
  return list.map(unescape);
}

/** Turns the escapes `\\n`, `\\t`, `\\r` and `\\\\` typed in a shell into their characters. */
function unescape(s: string): string {
  return s.replace(/\\([ntr\\])/g, (_m, c: string) => {
    if (c === "n") return "\n";
    if (c === "t") return "\t";
    if (c === "r") return "\r";
    return "\\";
  });
}
