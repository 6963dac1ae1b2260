// End to end: `deno run mod.ts generate` as a user runs it, on the tiny committed checkpoints.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const TARGET = Deno.env.get("SPECDEC_TEST_TARGET") ?? `${ROOT}/models/tiny-target`;
const DRAFT = Deno.env.get("SPECDEC_TEST_DRAFT") ?? `${ROOT}/models/tiny-draft`;
const PROMPT = "def fibonacci(n):\n    ";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const haveModels = exists(`${TARGET}/config.json`) && exists(`${DRAFT}/config.json`);
if (!haveModels) console.warn(`generate_e2e_test: no checkpoints at ${TARGET} / ${DRAFT}; skipped`);
const haveMedusa = exists(`${TARGET}/medusa`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], stdin?: string): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      "mod.ts",
      ...args,
    ],
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

interface JsonOut {
  text: string;
  tokens: number[];
  prompt_tokens: number[];
  metrics: Record<string, unknown>;
}

async function json(args: string[], model = TARGET): Promise<JsonOut> {
  const r = await cli(["generate", "--model", model, "-n", "24", "--json", ...args, PROMPT]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as JsonOut;
}

Deno.test({
  name:
    "mod.ts generate --json: every method emits the greedy autoregressive tokens (tiny checkpoints)",
  ignore: !haveModels,
  async fn(): Promise<void> {
    const ar = await json(["--method", "ar"]);
    assert.deepEqual(Object.keys(ar).sort(), ["metrics", "prompt_tokens", "text", "tokens"]);
    assert.ok(ar.tokens.length > 0 && ar.tokens.length <= 24);
    assert.ok(ar.prompt_tokens.length > 0);
    for (
      const key of [
        "acceptanceRate",
        "meanAcceptedLength",
        "tokensPerSecond",
        "wallTimeMs",
        "targetForwards",
      ]
    ) {
      assert.equal(typeof ar.metrics[key], "number", key);
    }
    assert.equal(ar.metrics.meanAcceptedLength, 1);

    const spec = await json(["--method", "speculative", "--draft", DRAFT, "--k", "3"]);
    assert.deepEqual(spec.prompt_tokens, ar.prompt_tokens);
    assert.deepEqual(spec.tokens, ar.tokens);
    assert.equal(spec.text, ar.text);
    assert.ok((spec.metrics.draftForwards as number) > 0);

    const lookup = await json(["--method", "lookup", "--k", "4"]);
    assert.deepEqual(lookup.tokens, ar.tokens);

    if (haveMedusa) {
      const medusa = await json(["--method", "medusa", "--tree", "8"]);
      assert.deepEqual(medusa.tokens, ar.tokens);
    }
  },
});

Deno.test({
  name: "mod.ts generate --weights q4: every method emits the q4 target's greedy tokens",
  ignore: !haveModels,
  async fn(): Promise<void> {
    const ar = await json(["--method", "ar", "--weights", "q4", "--batch-invariant"]);
    assert.ok(ar.tokens.length > 0);
    const spec = await json([
      "--method",
      "speculative",
      "--draft",
      DRAFT,
      "--weights",
      "q4",
      "--draft-weights",
      "q8",
    ]);
    assert.deepEqual(spec.tokens, ar.tokens);
    assert.deepEqual((await json(["--method", "lookup", "--weights", "q4"])).tokens, ar.tokens);
    if (haveMedusa) {
      const medusa = await json(["--method", "medusa", "--weights", "q4"]);
      assert.deepEqual(medusa.tokens, ar.tokens);
    }
  },
});

Deno.test({
  name: "mod.ts generate --weights q3: a usage error naming the allowed values (exit 2, no trace)",
  async fn(): Promise<void> {
    const r = await cli(["generate", "--weights", "q3", "x"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--weights must be one of f32, q8, q4, got 'q3'/);
    assert.doesNotMatch(r.stderr, / {4}at /);
    const d = await cli(["generate", "--method", "ar", "--draft-weights", "q4", "x"]);
    assert.equal(d.code, 2);
    assert.match(d.stderr, /--draft-weights is only used by --method speculative/);
  },
});

const GPT2_TARGET = `${ROOT}/models/tiny-gpt2-target`;
const GPT2_DRAFT = `${ROOT}/models/tiny-gpt2-draft`;

Deno.test({
  name: "mod.ts generate --json: speculative equals autoregressive on the GPT-2 pair",
  ignore: !(exists(`${GPT2_TARGET}/config.json`) && exists(`${GPT2_DRAFT}/config.json`)),
  async fn(): Promise<void> {
    const ar = await json(["--method", "ar"], GPT2_TARGET);
    const spec = await json(
      ["--method", "speculative", "--draft", GPT2_DRAFT, "--k", "4"],
      GPT2_TARGET,
    );
    assert.ok(ar.tokens.length > 0);
    assert.deepEqual(spec.tokens, ar.tokens);
    assert.ok((spec.metrics.acceptanceRate as number) > 0);
  },
});

Deno.test({
  name: "mod.ts generate streams text to stdout and a summary to stderr (tiny checkpoints)",
  ignore: !haveModels,
  async fn(): Promise<void> {
    const ar = await json(["--method", "ar"]);
    const r = await cli(
      ["generate", "--model", TARGET, "--draft", DRAFT, "-n", "24", "--k", "2", "-"],
      PROMPT,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, ar.text.endsWith("\n") ? ar.text : `${ar.text}\n`);
    assert.match(
      r.stderr,
      /\[specdec\] draft-target \(K=2( \+ lookup \d+)?\): \d+ tokens in [\d.]+s, [\d.]+ tok\/s, acceptance [\d.]+%, τ [\d.]+/,
    );
  },
});

Deno.test({
  name: "mod.ts usage errors exit 2 with one line and no stack",
  async fn(): Promise<void> {
    const cases: [string[], RegExp][] = [
      [["generate", "--bogus", "x"], /^error: unknown option '--bogus'/],
      [
        ["generate", "--model", "/nonexistent/model", "--method", "ar", "x"],
        /model folder not found: \/nonexistent\/model/,
      ],
      [["generate", "--k", "three", "x"], /--k must be an integer, got 'three'/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.ok(!r.stderr.includes("    at "), "no stack trace");
      assert.equal(r.stdout, "");
    }
  },
});

Deno.test({
  name: "mod.ts a runtime error exits 1 with the SpecDecError message",
  async fn(): Promise<void> {
    const dir = await Deno.makeTempDir({ prefix: "specdec_bad_model_" });
    await Deno.writeTextFile(`${dir}/config.json`, "{ not json");
    const r = await cli(["generate", "--model", dir, "--method", "ar", "x"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: .*config\.json/m);
    assert.ok(!r.stderr.includes("    at "), "no stack trace");
    await Deno.remove(dir, { recursive: true });
  },
});
