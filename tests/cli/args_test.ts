import assert from "node:assert/strict";
import { parseCliArgs, UsageError } from "../../lib/cli/args.ts";

function usage(argv: string[]): string {
  try {
    parseCliArgs(argv);
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${err}`);
    return err.message;
  }
  throw new Error(`no error for ${argv.join(" ")}`);
}

Deno.test("parseCliArgs() reads generate flags and the prompt", () => {
  const cmd = parseCliArgs([
    "generate",
    "--method",
    "lookup",
    "--k",
    "6",
    "-t",
    "0.7",
    "--top-k",
    "40",
    "--top-p",
    "0.9",
    "--seed",
    "42",
    "-n",
    "20",
    "--stop",
    "\\n\\n",
    "--stop",
    "END",
    "--json",
    "--threads",
    "2",
    "def f(x):",
  ]);
  assert.equal(cmd.command, "generate");
  if (cmd.command !== "generate") return;
  assert.deepEqual(cmd.args, {
    prompt: "def f(x):",
    model: undefined,
    draft: undefined,
    medusa: undefined,
    eagle: undefined,
    method: "lookup",
    k: 6,
    tree: undefined,
    lookup: undefined,
    temperature: 0.7,
    topK: 40,
    topP: 0.9,
    seed: 42,
    maxNewTokens: 20,
    stop: ["\n\n", "END"],
    json: true,
    threads: 2,
    draftThreads: undefined,
    weights: undefined,
    draftWeights: undefined,
    maxLength: undefined,
    bos: undefined,
    chat: false,
    system: undefined,
    batchInvariant: false,
  });
});

Deno.test("parseCliArgs() reads --max-length, --no-bos, --chat and --system", () => {
  const cmd = parseCliArgs([
    "generate",
    "--max-length",
    "4096",
    "--no-bos",
    "--chat",
    "--system",
    "Be terse.",
    "Hi",
  ]);
  assert.ok(cmd.command === "generate");
  assert.equal(cmd.args.maxLength, 4096);
  assert.equal(cmd.args.bos, false);
  assert.equal(cmd.args.chat, true);
  assert.equal(cmd.args.system, "Be terse.");
  assert.equal(
    usage(["generate", "--max-length", "1", "p"]),
    "--max-length must be from 2 to 1048576, got 1",
  );
  assert.equal(usage(["generate", "--system", "x", "p"]), "--system is only used with --chat");
});

Deno.test("parseCliArgs() reads serve options with defaults", () => {
  const cmd = parseCliArgs(["serve", "--port", "9000", "--draft", "d", "--queue-size", "4"]);
  assert.ok(cmd.command === "serve");
  assert.equal(cmd.args.port, 9000);
  assert.equal(cmd.args.host, "127.0.0.1");
  assert.equal(cmd.args.queueSize, 4);
  assert.equal(cmd.args.draft, "d");
  const d = parseCliArgs(["serve"]);
  assert.ok(d.command === "serve");
  assert.equal(d.args.port, 8080);
  assert.equal(d.args.queueSize, 16);
  assert.equal(usage(["serve", "--port", "65536"]), "--port must be from 0 to 65535, got 65536");
  assert.match(usage(["serve", "x"]), /no positional arguments/);
  assert.deepEqual(parseCliArgs(["serve", "--help"]), { command: "help", topic: "serve" });
});

Deno.test("parseCliArgs() reads --draft-threads for generate and demo", () => {
  const gen = parseCliArgs(["generate", "--threads", "4", "--draft-threads", "1", "p"]);
  assert.ok(gen.command === "generate");
  assert.equal(gen.args.threads, 4);
  assert.equal(gen.args.draftThreads, 1);
  const eq = parseCliArgs(["generate", "--draft-threads=3", "p"]);
  assert.ok(eq.command === "generate");
  assert.equal(eq.args.draftThreads, 3);
  assert.equal(eq.args.threads, undefined);
  const demo = parseCliArgs(["demo", "--draft-threads", "2"]);
  assert.ok(demo.command === "demo");
  assert.equal(demo.args.draftThreads, 2);
  assert.equal(demo.args.threads, undefined);
  const none = parseCliArgs(["demo"]);
  assert.ok(none.command === "demo");
  assert.equal(none.args.draftThreads, undefined);
});

Deno.test("parseCliArgs() rejects bad --draft-threads values naming the flag", () => {
  assert.equal(
    usage(["generate", "--draft-threads", "0", "p"]),
    "--draft-threads must be from 1 to 1024, got 0",
  );
  assert.equal(
    usage(["demo", "--draft-threads", "2000"]),
    "--draft-threads must be from 1 to 1024, got 2000",
  );
  assert.equal(
    usage(["generate", "--draft-threads", "two", "p"]),
    "--draft-threads must be an integer, got 'two'",
  );
  assert.equal(
    usage(["demo", "--draft-threads", "1.5"]),
    "--draft-threads must be an integer, got '1.5'",
  );
  assert.equal(usage(["generate", "--draft-threads"]), "option '--draft-threads' needs a value");
  assert.match(usage(["demo", "--draft-threads", "-1"]), /^option '--draft-threads' needs a value/);
});

Deno.test("parseCliArgs() defaults: speculative, greedy, 128 tokens", () => {
  const cmd = parseCliArgs(["generate", "hello"]);
  assert.ok(cmd.command === "generate");
  assert.equal(cmd.args.method, "speculative");
  assert.equal(cmd.args.temperature, 0);
  assert.equal(cmd.args.maxNewTokens, 128);
  assert.equal(cmd.args.json, false);
  assert.equal(cmd.args.k, undefined);
});

Deno.test("parseCliArgs() routes help and version", () => {
  assert.deepEqual(parseCliArgs([]), { command: "help", topic: "main" });
  assert.deepEqual(parseCliArgs(["--help"]), { command: "help", topic: "main" });
  assert.deepEqual(parseCliArgs(["generate", "--help"]), { command: "help", topic: "generate" });
  assert.deepEqual(parseCliArgs(["demo", "-h"]), { command: "help", topic: "demo" });
  assert.deepEqual(parseCliArgs(["help", "demo"]), { command: "help", topic: "demo" });
  assert.deepEqual(parseCliArgs(["--version"]), { command: "version" });
});

Deno.test("parseCliArgs() names an unknown flag or command", () => {
  assert.equal(usage(["generate", "--frobnicate", "x"]), "unknown option '--frobnicate'");
  assert.equal(usage(["demo", "--k=3", "--bogus"]), "unknown option '--bogus'");
  assert.match(
    usage(["serverless"]),
    /unknown command 'serverless' \(expected generate, demo or serve\)/,
  );
  assert.match(usage(["--nope"]), /unknown option '--nope'/);
});

Deno.test("parseCliArgs() rejects bad numbers naming the flag", () => {
  assert.equal(usage(["generate", "--k", "abc", "p"]), "--k must be an integer, got 'abc'");
  assert.equal(usage(["generate", "--k", "2.5", "p"]), "--k must be an integer, got '2.5'");
  assert.equal(usage(["generate", "--k", "0", "p"]), "--k must be from 1 to 32, got 0");
  assert.equal(
    usage(["generate", "--temperature", "hot", "p"]),
    "--temperature must be a number, got 'hot'",
  );
  assert.equal(usage(["generate", "--temperature=-1", "p"]), "--temperature must be >= 0, got -1");
  assert.equal(usage(["generate", "--top-p", "1.5", "p"]), "--top-p must be in (0, 1], got 1.5");
  assert.equal(usage(["generate", "--top-p", "0", "p"]), "--top-p must be in (0, 1], got 0");
  assert.equal(
    usage(["generate", "--max-new-tokens", "", "p"]),
    "--max-new-tokens must be an integer, got ''",
  );
  assert.equal(
    usage(["generate", "--seed", "-3", "p"]).startsWith("option '--seed' needs a value"),
    true,
  );
  assert.equal(usage(["demo", "--threads", "0"]), "--threads must be from 1 to 1024, got 0");
  assert.equal(usage(["generate", "--lookup", "65", "p"]), "--lookup must be from 0 to 64, got 65");
  assert.equal(usage(["generate", "--lookup", "x", "p"]), "--lookup must be an integer, got 'x'");
});

Deno.test("parseCliArgs() reads --lookup (0 turns the measured branch off)", () => {
  for (const [flag, want] of [["8", 8], ["0", 0]] as const) {
    const cmd = parseCliArgs(["generate", "--method", "eagle", "--lookup", flag, "p"]);
    assert.equal(cmd.command === "generate" && cmd.args.lookup, want);
  }
});

Deno.test("parseCliArgs() rejects bad values and shapes", () => {
  assert.equal(
    usage(["generate", "--method", "beam", "p"]),
    "--method must be one of ar, speculative, medusa, eagle, lookup, got 'beam'",
  );
  assert.equal(usage(["generate", "--k"]), "option '--k' needs a value");
  assert.equal(usage(["generate", "--json=yes"]), "option '--json' does not take a value");
  assert.match(usage(["generate", "a", "b"]), /expected one prompt argument, got 2/);
  assert.match(usage(["demo", "stray"]), /no positional arguments/);
  assert.equal(
    usage(["generate", "--model", "", "p"]),
    "--model needs a folder path, got an empty string",
  );
  assert.equal(usage(["generate", "--stop", "", "p"]), "--stop must not be an empty string");
});

Deno.test("parseCliArgs() messages are one line", () => {
  for (
    const argv of [
      ["generate", "--x"],
      ["generate", "--k"],
      ["generate", "--temperature", "-2"],
      ["generate", "--k", "1e3"],
    ]
  ) {
    assert.ok(!usage(argv).includes("\n"), argv.join(" "));
  }
});

Deno.test("parseCliArgs() reads --weights and --draft-weights, refusing other precisions", () => {
  for (const cmd of [["generate", "p"], ["demo"], ["serve"]]) {
    const parsed = parseCliArgs([
      cmd[0]!,
      "--weights",
      "q4",
      "--draft-weights",
      "q8",
      ...cmd.slice(1),
    ]);
    assert.ok(parsed.command === cmd[0]);
    const args = (parsed as { args: { weights?: string; draftWeights?: string } }).args;
    assert.equal(args.weights, "q4");
    assert.equal(args.draftWeights, "q8");
  }
  assert.equal(
    usage(["generate", "--weights", "int4", "p"]),
    "--weights must be one of f32, q8, q4, got 'int4'",
  );
  assert.equal(
    usage(["demo", "--draft-weights", "q3"]),
    "--draft-weights must be one of f32, q8, q4, got 'q3'",
  );
});
