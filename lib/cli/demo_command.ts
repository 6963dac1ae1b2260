/**
 * `specdec demo`: completes a code prompt with speculative decoding on the
 * bundled checkpoints (the fastest lossless method measured on them), then
 * decodes it again autoregressively and prints the comparison (tokens/s,
 * acceptance, τ, speedup, identical outputs).
 *
 * @module
 */

import { DEFAULT_DRAFT_THREADS, type DemoArgs } from "./cli_args.ts";
import type { CliBackend, CliGeneration, DecoderSettings, LoadRequest } from "./cli_backend.ts";
import type { CliIO } from "./cli_io.ts";
import { ProgressBar } from "./progress_bar.ts";
import { bundledModelDir, isModelDir, makeDecoder, requireModelDir } from "./_paths.ts";
import { fix, pct, summaryFigures } from "./_metrics.ts";
import { formatNumber } from "../util/format_number.ts";
import { UsageError } from "./usage_error.ts";

/**
 * The demo's method on the bundled checkpoints: the fastest lossless one on the bench pair
 * (`bench/eagle_sweep.ts` and `deno task bench:report`, greedy, held-out code prompts). `eagle`
 * falls back to `speculative` when the target has no `eagle/` head; `--model` with `--draft`
 * always runs `speculative`.
 */
const DEMO_METHOD: "speculative" | "eagle" = "speculative";
// Measured (8 held-out code prompts x 128, greedy, load ~2): prompt lookup 2.07x, draft-target
// K=3 1.41x, EAGLE (step-200 head, top-1 0.37) at best 1.04x: EAGLE stays off.

/** The built-in code prompt (Python, the bench models' language). */
const DEMO_PROMPT = `def binary_search(items, target):
    """Return the index of target in the sorted list items, or -1."""
    lo, hi = 0, len(items) - 1
    while lo <= hi:
`;

/**
 * Runs `demo`.
 *
 * @param args Parsed `demo` options.
 * @param io Terminal streams.
 * @param backend Model loader and decoder factory.
 * @param signal Aborts generation.
 * @returns The exit code (0).
 * @throws {UsageError} When no checkpoints are found.
 *
 * @example Running the demo
 * ```ts ignore
 * import { demoCommand, denoCliIO, onnxBackend } from "@specdec/specdec/cli";
 * await demoCommand({ model: undefined, draft: undefined, prompt: undefined, k: undefined, maxNewTokens: 64, threads: undefined, draftThreads: undefined }, denoCliIO(), onnxBackend());
 * ```
 */
export async function demoCommand(
  args: DemoArgs,
  io: CliIO,
  backend: CliBackend,
  signal?: AbortSignal,
): Promise<number> {
  const request = await demoModels(args, io);
  const method = request.eagle !== undefined ? "eagle" : "speculative";
  const sink = { write: (t: string) => io.writeErr(t), isTerminal: io.stderrIsTerminal };
  const stage = <T>(label: string, work: () => Promise<T>): Promise<T> =>
    new ProgressBar(label, sink).wrap(work);
  using models = await backend.load(request, stage);

  const prompt = args.prompt ?? DEMO_PROMPT;
  const settings: DecoderSettings = { temperature: 0, maxNewTokens: args.maxNewTokens, stop: [] };
  if (args.k !== undefined) settings.k = args.k;
  const options = signal !== undefined ? { signal } : {};
  const speculative = makeDecoder(() => models.decoder(method, settings), "demo");
  const autoregressive = models.decoder("ar", settings);

  // Warm-up: the first runs pay one-off session costs; keep them out of the comparison.
  const warm = { ...settings, maxNewTokens: Math.min(4, settings.maxNewTokens) };
  await new ProgressBar("warming up", sink).wrap(async () => {
    await models.decoder(method, warm).generate(prompt, options);
    await models.decoder("ar", warm).generate(prompt, options);
  });

  await io.writeOut(`--- ${speculative.description}, greedy: prompt + completion ---\n`);
  await io.writeOut(prompt);
  const spec = await speculative.generate(prompt, {
    ...options,
    onText: (piece: string) => io.writeOut(piece),
  });
  await io.writeOut("\n");

  const ar = await new ProgressBar("decoding the same prompt autoregressively", sink)
    .wrap(() => autoregressive.generate(prompt, options));
  await io.writeOut(`\n${comparison(spec, ar, speculative.description)}`);
  return 0;
}

/** Picks bench checkpoints, or tiny ones with a notice, or the flags' folders. */
async function demoModels(args: DemoArgs, io: CliIO): Promise<LoadRequest> {
  const cmd = "demo";
  let model: string;
  let draft: string;
  if (args.model !== undefined || args.draft !== undefined) {
    if (args.model === undefined || args.draft === undefined) {
      throw new UsageError("--model and --draft go together", cmd);
    }
    model = await requireModelDir(args.model, "--model", cmd);
    draft = await requireModelDir(args.draft, "--draft", cmd);
  } else {
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
        "no bundled checkpoints in models/ (bench-target/bench-draft or tiny-target/tiny-draft); pass --model and --draft",
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
  // Draft and target sessions alternate: the small draft on one thread unless asked otherwise,
  // and then the target's idle threads may spin (see generate_command.ts).
  const draftThreads = args.draftThreads ?? DEFAULT_DRAFT_THREADS;
  const request: LoadRequest = { model, draft, spinning: draftThreads === 1, draftThreads };
  if (args.threads !== undefined) request.threads = args.threads;
  if (args.weights !== undefined) request.weights = args.weights;
  if (args.draftWeights !== undefined) request.draftWeights = args.draftWeights;
  const eagle = `${model}/eagle`;
  if (DEMO_METHOD === "eagle" && args.draft === undefined && await isModelDir(eagle)) {
    request.eagle = eagle;
  }
  return request;
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
