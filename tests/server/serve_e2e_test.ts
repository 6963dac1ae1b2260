// `mod.ts serve` as a user runs it: output through the server equals `mod.ts generate`'s for the
// same prompt and settings, and SIGTERM shuts it down gracefully mid-stream.

import assert from "node:assert/strict";
import OpenAI from "openai";
import { ROOT } from "./_server_fixture.ts";

const TARGET = `${ROOT}/models/tiny-target`;
const DRAFT = `${ROOT}/models/tiny-draft`;
const PROMPT = "class Stack:\n    def __init__(self):";

async function generateJson(
  args: string[],
): Promise<{ text: string; tokens: number[]; prompt_tokens: number[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "mod.ts",
      "generate",
      "--json",
      "--model",
      TARGET,
      "--threads",
      "1",
      ...args,
      PROMPT,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

interface Served {
  child: Deno.ChildProcess;
  base: string;
  stderr: () => Promise<string>;
}

async function serve(args: string[]): Promise<Served> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", "serve", "--port", "0", "--threads", "1", ...args],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited before listening:\n${seen}`);
    seen += value;
    const m = /on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(seen);
    if (m) {
      const rest = (async (): Promise<string> => {
        for (;;) {
          const r = await reader.read();
          if (r.done) return seen;
          seen += r.value;
        }
      })();
      return { child, base: m[1]!, stderr: () => rest };
    }
  }
}

Deno.test("mod.ts serve: completions equal mod.ts generate's output (greedy and seeded sampling); SIGTERM stops it", async () => {
  const s = await serve(["--model", TARGET, "--draft", DRAFT, "--name", "tiny"]);
  const openai = new OpenAI({ apiKey: "unused", baseURL: `${s.base}/v1`, maxRetries: 0 });
  try {
    for (const method of ["speculative", "ar"]) {
      const cli = await generateJson([
        "--method",
        method,
        "-n",
        "24",
        ...(method === "speculative" ? ["--draft", DRAFT] : []),
      ]);
      const r = await openai.completions.create({
        model: "tiny",
        prompt: PROMPT,
        max_tokens: 24,
        temperature: 0,
        speculation: { method },
      } as never) as unknown as OpenAI.Completion;
      assert.equal(r.choices[0]!.text, cli.text, method);
      assert.equal(r.usage!.prompt_tokens, cli.prompt_tokens.length);
      assert.equal(r.usage!.completion_tokens, cli.tokens.length);
    }
    const cli = await generateJson([
      "--method",
      "speculative",
      "--draft",
      DRAFT,
      "-n",
      "20",
      "-t",
      "0.8",
      "--top-p",
      "0.9",
      "--seed",
      "7",
    ]);
    const r = await openai.completions.create({
      model: "tiny",
      prompt: PROMPT,
      max_tokens: 20,
      temperature: 0.8,
      top_p: 0.9,
      seed: 7,
      speculation: { method: "speculative" },
    } as never) as unknown as OpenAI.Completion;
    assert.equal(r.choices[0]!.text, cli.text, "seeded sampling");

    // SIGTERM while a stream runs: the stream ends, the process exits 0 and says so
    const stream = await openai.completions.create({
      model: "tiny",
      prompt: PROMPT,
      max_tokens: 900,
      temperature: 0,
      stream: true,
    });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    s.child.kill("SIGTERM");
    let ended = false;
    try {
      for (;;) {
        const c = await it.next();
        if (c.done) break;
      }
      ended = true;
    } catch {
      ended = true; // the server reported the cancellation as an error event
    }
    assert.ok(ended);
    const status = await s.child.status;
    assert.equal(status.code, 0);
    assert.match(await s.stderr(), /server stopped/);
  } finally {
    try {
      s.child.kill("SIGKILL");
    } catch { /* already exited */ }
    await s.child.status;
  }
});

Deno.test("mod.ts serve: usage errors exit 2 with one line", async () => {
  for (const args of [["--port", "70000"], ["--queue-size", "-1"], ["--bogus"], ["extra"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "mod.ts", "serve", ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, err);
    assert.equal(err.trim().split("\n").length, 1, err);
  }
});
