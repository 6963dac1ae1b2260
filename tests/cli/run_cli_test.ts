import assert from "node:assert/strict";
import { runCli } from "../../lib/cli/run_cli.ts";
import {
  type CliBackend,
  type LoadedModels,
  loadedModels,
  type LoadRequest,
} from "../../lib/cli/models.ts";
import type { CliIO } from "../../lib/cli/output.ts";
import { SpecDecError, StatusCode } from "../../lib/runtime/errors.ts";
import { MEASURED_DEFAULTS } from "../../lib/cli/measured_defaults.ts";
import { CharTokenizer, RuleModel } from "./_fake_models.ts";

interface Captured extends CliIO {
  out: string;
  err: string;
}

function captureIO(stdin?: string): Captured {
  const io = {
    out: "",
    err: "",
    writeOut(t: string): Promise<void> {
      io.out += t;
      return Promise.resolve();
    },
    writeErr(t: string): Promise<void> {
      io.err += t;
      return Promise.resolve();
    },
    stderrIsTerminal: false,
    stdinIsTerminal: stdin === undefined,
    readStdin: () => Promise.resolve(stdin ?? ""),
  };
  return io;
}

/** Real decoders over deterministic in-memory models; records what was asked to load. */
function fakeBackend(requests: LoadRequest[] = []): CliBackend {
  return {
    load(request, stage): Promise<LoadedModels> {
      requests.push(request);
      return stage("loading test models", () =>
        Promise.resolve(loadedModels({
          target: new RuleModel(256, 5),
          draft: new RuleModel(256, 5, 4),
          tokenizer: new CharTokenizer(),
        })));
    },
  };
}

async function modelDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "specdec_cli_test_" });
  await Deno.writeTextFile(`${dir}/config.json`, "{}");
  return dir;
}

Deno.test("runCli() unknown flag: one line on stderr, exit 2, no stack", async () => {
  const io = captureIO();
  const code = await runCli(["generate", "--frobnicate", "x"], { io, backend: fakeBackend() });
  assert.equal(code, 2);
  assert.equal(io.out, "");
  assert.equal(io.err, "error: unknown option '--frobnicate' (see 'mod.ts generate --help')\n");
});

Deno.test("runCli() bad number: exit 2 naming the flag", async () => {
  const io = captureIO();
  const code = await runCli(["generate", "--max-new-tokens", "ten", "x"], {
    io,
    backend: fakeBackend(),
  });
  assert.equal(code, 2);
  assert.match(io.err, /^error: --max-new-tokens must be an integer, got 'ten'/);
  assert.equal(io.err.trimEnd().split("\n").length, 1);
});

Deno.test("runCli() missing model folder: exit 2 naming the path, nothing loaded", async () => {
  const requests: LoadRequest[] = [];
  const io = captureIO();
  const missing = "/nonexistent/specdec-model";
  const code = await runCli(["generate", "--model", missing, "--method", "ar", "x"], {
    io,
    backend: fakeBackend(requests),
  });
  assert.equal(code, 2);
  assert.equal(
    io.err,
    `error: --model: model folder not found: ${missing} (see 'mod.ts generate --help')\n`,
  );
  assert.equal(requests.length, 0);

  const empty = await Deno.makeTempDir();
  const io2 = captureIO();
  assert.equal(await runCli(["generate", "-m", empty, "--method", "ar", "x"], { io: io2 }), 2);
  assert.match(io2.err, /no config\.json in model folder/);
  await Deno.remove(empty);
});

Deno.test("runCli() flags that do not fit the method are usage errors", async () => {
  const dir = await modelDir();
  const cases: [string[], RegExp][] = [
    [["--method", "speculative"], /needs --draft DIR/],
    [["--method", "ar", "--k", "3"], /--k is only used by/],
    [["--method", "ar", "--draft", dir], /--draft is only used by --method speculative/],
    [["--method", "lookup", "--tree", "8"], /--tree is only used by --method medusa or eagle/],
    [["--method", "medusa"], /Medusa heads folder not found/],
    [
      ["--method", "eagle"],
      /^error: --method eagle needs EAGLE weights: no .*\/eagle\/config\.json \(pass --eagle DIR\)/,
    ],
    [["--method", "eagle", "--eagle", dir + "/none"], /--eagle: no EAGLE head \(config\.json\) in/],
    [["--method", "ar", "--eagle", dir], /--eagle is only used by --method eagle, not ar/],
  ];
  for (const [flags, re] of cases) {
    const io = captureIO();
    const code = await runCli(["generate", "-m", dir, ...flags, "x"], {
      io,
      backend: fakeBackend(),
    });
    assert.equal(code, 2, flags.join(" "));
    assert.match(io.err, re);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runCli() --json prints {text, tokens, prompt_tokens, metrics}", async () => {
  const dir = await modelDir();
  const io = captureIO();
  const code = await runCli(
    // --lookup 0: the draft alone proposes, so its acceptance is strictly between 0 and 1
    [
      "generate",
      "-m",
      dir,
      "--draft",
      dir,
      "--k",
      "3",
      "--lookup",
      "0",
      "-n",
      "12",
      "--json",
      "def f(x):",
    ],
    { io, backend: fakeBackend() },
  );
  assert.equal(code, 0, io.err);
  const lines = io.out.trimEnd().split("\n");
  assert.equal(lines.length, 1);
  const json = JSON.parse(lines[0]!);
  assert.deepEqual(Object.keys(json).sort(), ["metrics", "prompt_tokens", "text", "tokens"]);
  const tok = new CharTokenizer();
  assert.deepEqual(json.prompt_tokens, tok.encode("def f(x):"));
  assert.equal(json.tokens.length, 12);
  assert.ok(json.tokens.every((t: unknown) => Number.isInteger(t)));
  assert.equal(json.text, tok.decode(json.tokens));
  for (
    const key of [
      "acceptanceRate",
      "meanAcceptedLength",
      "tokensPerSecond",
      "wallTimeMs",
      "targetForwards",
    ]
  ) {
    assert.equal(typeof json.metrics[key], "number", key);
  }
  assert.ok(json.metrics.acceptanceRate > 0 && json.metrics.acceptanceRate < 1);
  assert.ok(Array.isArray(json.metrics.acceptedPerPosition));
  // Greedy speculative decoding reproduces the target's own rule exactly.
  const target = new RuleModel(256, 5);
  let last = json.prompt_tokens.at(-1);
  for (const t of json.tokens) {
    assert.equal(t, target.next(last));
    last = t;
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runCli() streams text to stdout and a summary line to stderr", async () => {
  const dir = await modelDir();
  const io = captureIO();
  const code = await runCli(["generate", "-m", dir, "--method", "lookup", "-n", "10", "abc"], {
    io,
    backend: fakeBackend(),
  });
  assert.equal(code, 0, io.err);
  const jsonIO = captureIO();
  await runCli(["generate", "-m", dir, "--method", "ar", "-n", "10", "--json", "abc"], {
    io: jsonIO,
    backend: fakeBackend(),
  });
  const expected = JSON.parse(jsonIO.out).text;
  assert.equal(io.out, `${expected}\n`);
  const summary = io.err.split("\n").find((l) => l.startsWith("[specdec]"));
  assert.ok(summary !== undefined, io.err);
  assert.match(
    summary,
    /prompt lookup \(K=\d+\): 10 tokens in [\d.]+s, [\d.]+ tok\/s, acceptance ([\d.]+%|-), τ [\d.]+/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runCli() reads the prompt from stdin", async () => {
  const dir = await modelDir();
  const io = captureIO("xyz");
  assert.equal(
    await runCli(["generate", "-m", dir, "--method", "ar", "-n", "4", "--json"], {
      io,
      backend: fakeBackend(),
    }),
    0,
  );
  assert.deepEqual(JSON.parse(io.out).prompt_tokens, new CharTokenizer().encode("xyz"));

  const tty = captureIO();
  assert.equal(
    await runCli(["generate", "-m", dir, "--method", "ar"], { io: tty, backend: fakeBackend() }),
    2,
  );
  assert.match(tty.err, /no prompt/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runCli() runtime errors exit 1 with the SpecDecError message", async () => {
  const dir = await modelDir();
  const io = captureIO();
  const failing: CliBackend = {
    load: () =>
      Promise.reject(
        new SpecDecError(`model.safetensors: header too large in ${dir}`, StatusCode.IO),
      ),
  };
  const code = await runCli(["generate", "-m", dir, "--method", "ar", "x"], {
    io,
    backend: failing,
  });
  assert.equal(code, 1);
  assert.equal(io.err, `error: model.safetensors: header too large in ${dir}\n`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runCli() decoder argument checks become usage errors", async () => {
  const dir = await modelDir();
  await Deno.mkdir(`${dir}/medusa`);
  const io = captureIO();
  // The fake backend loads no Medusa heads: the decoder factory's TypeError is the user's mistake.
  const code = await runCli(["generate", "-m", dir, "--method", "medusa", "x"], {
    io,
    backend: fakeBackend(),
  });
  assert.equal(code, 2);
  assert.equal(io.err.split("\n").filter((l) => l.startsWith("error:")).length, 1);
  assert.match(io.err, /error: --method medusa needs Medusa heads/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runCli() --help and --version print to stdout", async () => {
  for (const argv of [["--help"], ["generate", "--help"], ["demo", "--help"], ["--version"]]) {
    const io = captureIO();
    assert.equal(await runCli(argv, { io }), 0);
    assert.ok(io.out.length > 0);
    assert.equal(io.err, "");
  }
  const io = captureIO();
  await runCli(["generate", "--help"], { io });
  for (
    const flag of [
      "--model",
      "--draft",
      "--medusa",
      "--method",
      "--k",
      "--temperature",
      "--top-k",
      "--top-p",
      "--seed",
      "--max-new-tokens",
      "--stop",
      "--json",
      "--threads",
      "--draft-threads",
    ]
  ) {
    assert.ok(io.out.includes(flag), flag);
  }
  const demo = captureIO();
  await runCli(["demo", "--help"], { io: demo });
  assert.ok(demo.out.includes("--draft-threads"));
});

Deno.test("runCli() --threads and --draft-threads reach the load request", async () => {
  const dir = await modelDir();
  await Deno.mkdir(`${dir}/medusa`);
  const load = async (argv: string[]): Promise<LoadRequest | undefined> => {
    const requests: LoadRequest[] = [];
    const io = captureIO();
    await runCli(argv, { io, backend: fakeBackend(requests) });
    return requests[0];
  };
  const gen = ["generate", "-m", dir, "-n", "4", "--json"];
  // Speculative: the draft defaults to 1 thread, the target to the runtime's default.
  let r = await load([...gen, "--draft", dir, "x"]);
  assert.equal(r?.draftThreads, 1);
  assert.equal(r?.threads, undefined);
  r = await load([...gen, "--draft", dir, "--threads", "3", "--draft-threads", "2", "x"]);
  assert.equal(r?.threads, 3);
  assert.equal(r?.draftThreads, 2);
  // Autoregressive: no draft, nothing set.
  r = await load([...gen, "--method", "ar", "--threads", "2", "x"]);
  assert.equal(r?.threads, 2);
  assert.equal(r?.draftThreads, undefined);
  // Medusa: the heads follow --threads unless --draft-threads is given (the fake backend has
  // no heads, so the decoder fails after loading; the request is what matters here).
  r = await load([...gen, "--method", "medusa", "--threads", "2", "x"]);
  assert.equal(r?.draftThreads, undefined);
  r = await load([...gen, "--method", "medusa", "--draft-threads", "1", "x"]);
  assert.equal(r?.draftThreads, 1);
  // Demo: draft on 1 thread unless asked otherwise.
  const demo = ["demo", "-m", dir, "--draft", dir, "-n", "4"];
  assert.equal((await load(demo))?.draftThreads, 1);
  r = await load([...demo, "--threads", "2", "--draft-threads", "2"]);
  assert.equal(r?.threads, 2);
  assert.equal(r?.draftThreads, 2);

  for (const method of ["ar", "lookup"]) {
    const requests: LoadRequest[] = [];
    const io = captureIO();
    const code = await runCli(
      ["generate", "-m", dir, "--method", method, "--draft-threads", "1", "x"],
      { io, backend: fakeBackend(requests) },
    );
    assert.equal(code, 2);
    assert.equal(
      io.err,
      `error: --draft-threads is only used by --method speculative, medusa or eagle, not ${method} ` +
        "(see 'mod.ts generate --help')\n",
    );
    assert.equal(requests.length, 0);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runCli() demo compares speculative and autoregressive output", async () => {
  const dir = await modelDir();
  const io = captureIO();
  const code = await runCli(["demo", "-m", dir, "--draft", dir, "-n", "16", "--k", "4"], {
    io,
    backend: fakeBackend(),
  });
  assert.equal(code, 0, io.err);
  assert.match(io.out, /autoregressive\s+16\s+[\d.]+\s+-\s+1\.00\s+1\.00x/);
  assert.match(
    io.out,
    /draft-target \(K=4( \+ lookup \d+)?\)\s+16\s+[\d.]+\s+[\d.]+%\s+[\d.]+\s+[\d.]+x/,
  );
  assert.match(io.out, /outputs identical: yes \(16 tokens/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runCli() demo runs autoregressive, then the measured fastest method", async () => {
  const dir = await modelDir();
  const io = captureIO();
  const requests: LoadRequest[] = [];
  const code = await runCli(["demo", "-m", dir, "-n", "16"], {
    io,
    backend: fakeBackend(requests),
  });
  assert.equal(code, 0, io.err);
  // The fake folder has no draft or heads: a fastest method that needs them falls back to
  // prompt lookup, which needs only the target.
  const fastest = MEASURED_DEFAULTS.f32.fastest;
  assert.equal(requests[0]?.draft, undefined);
  assert.equal(requests[0]?.spinning, true);
  const name = `prompt lookup (K=${MEASURED_DEFAULTS.f32.lookup.k})`;
  const arAt = io.out.indexOf("--- autoregressive, greedy");
  const fastAt = io.out.indexOf(`--- ${name}, greedy`);
  assert.ok(arAt >= 0 && fastAt > arAt, io.out);
  assert.ok(io.out.split("\n").some((l) => /^prompt lookup \(K=\d+\)\s+16\s/.test(l)), io.out);
  assert.match(io.out, /outputs identical: yes \(16 tokens/);
  if (fastest !== "lookup") assert.match(io.err, /showing prompt lookup/);

  const usage = captureIO();
  assert.equal(await runCli(["demo", "--draft", dir], { io: usage, backend: fakeBackend() }), 2);
  assert.match(usage.err, /--draft needs --model/);
  await Deno.remove(dir, { recursive: true });
});
