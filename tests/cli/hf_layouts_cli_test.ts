// `mod.ts generate` on the Llama-3-, Qwen2-, SmolLM2-style fixtures (tests/fixtures/hf, made by
// transformers): BOS, EOS lists, chat templates, padded draft vocabularies and context flags.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const HF = `${ROOT}/tests/fixtures/hf`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

interface JsonOut {
  text: string;
  tokens: number[];
  prompt_tokens: number[];
}

async function generate(args: string[]): Promise<JsonOut> {
  const r = await cli(["generate", "--json", "--threads", "1", ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as JsonOut;
}

// deno-lint-ignore no-explicit-any
function expected(name: string): Record<string, any> {
  return JSON.parse(Deno.readTextFileSync(`${HF}/${name}/expected.json`));
}

Deno.test("generate: prompt ids equal transformers' tokenizer(text) (BOS from the post-processor); --no-bos drops it", async () => {
  const e = expected("llama3").encode[0];
  const args = ["--model", `${HF}/llama3`, "--method", "ar", "-n", "2"];
  assert.deepEqual((await generate([...args, e.text])).prompt_tokens, e.input_ids);
  assert.deepEqual(
    (await generate([...args, "--no-bos", e.text])).prompt_tokens,
    e.input_ids.slice(1),
  );
  const q = expected("qwen2").encode[0];
  assert.deepEqual(
    (await generate(["--model", `${HF}/qwen2`, "--method", "ar", "-n", "2", q.text])).prompt_tokens,
    q.input_ids,
  );
});

Deno.test("generate: stops on any id of generation_config.json's eos_token_id list, as transformers", async () => {
  const g = expected("llama3-eos").generate;
  const out = await generate([
    "--model",
    `${HF}/llama3-eos`,
    "--method",
    "ar",
    "-n",
    String(g.max_new_tokens),
    "def fibonacci(n):\n    return n",
  ]);
  assert.deepEqual(out.prompt_tokens, g.prompt_ids);
  assert.deepEqual(out.tokens, g.output_ids);
  assert.equal(out.tokens.at(-1), g.stop_id);
});

Deno.test("generate --chat [--system]: prompt ids equal transformers' apply_chat_template", async () => {
  for (const name of ["smollm2", "llama3", "qwen2"]) {
    const [one, withSystem] = expected(name).chat;
    const base = ["--model", `${HF}/${name}`, "--method", "ar", "-n", "2", "--chat"];
    assert.deepEqual(
      (await generate([...base, one.messages[0].content])).prompt_tokens,
      one.input_ids,
      name,
    );
    assert.deepEqual(
      (await generate([
        ...base,
        "--system",
        withSystem.messages[0].content,
        withSystem.messages[1].content,
      ])).prompt_tokens,
      withSystem.input_ids,
      name,
    );
  }
});

Deno.test("generate: a draft whose vocabulary differs by padding gives transformers' greedy tokens", async () => {
  const g = expected("qwen2").generate;
  const out = await generate([
    "--model",
    `${HF}/qwen2`,
    "--draft",
    `${HF}/qwen2-draft`,
    "--method",
    "speculative",
    "-n",
    String(g.max_new_tokens),
    "def fibonacci(n):\n    return n",
  ]);
  assert.deepEqual(out.prompt_tokens, g.prompt_ids);
  assert.deepEqual(out.tokens, g.output_ids);
});

Deno.test("generate: a draft with fewer positions caps the context; --max-length past it is a usage error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const f of Deno.readDirSync(`${HF}/qwen2-draft`)) {
      await Deno.copyFile(`${HF}/qwen2-draft/${f.name}`, `${dir}/${f.name}`);
    }
    const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ ...config, max_position_embeddings: 64 }),
    );
    const args = ["--model", `${HF}/qwen2`, "--draft", dir, "--method", "speculative"];
    const out = await generate([...args, "-n", "80", "def fibonacci(n):\n    return n"]);
    // 64 cached positions: the last new token is emitted without entering the cache
    assert.equal(out.prompt_tokens.length + out.tokens.length, 65, "the context is the draft's 64");
    const r = await cli(["generate", ...args, "--max-length", "128", "x"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /--max-length: maxLength 128 exceeds the draft's max_position_embeddings 64/,
    );
    assert.equal(r.stderr.trim().split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generate --max-length: up to max_position_embeddings, else exit 2 naming it", async () => {
  const out = await generate([
    "--model",
    `${HF}/mistral`,
    "--method",
    "ar",
    "--max-length",
    "40",
    "-n",
    "100",
    "the quick brown fox",
  ]);
  assert.equal(out.prompt_tokens.length + out.tokens.length, 41); // the last one is not cached
  const r = await cli([
    "generate",
    "--model",
    `${HF}/mistral`,
    "--max-length",
    "300",
    "--method",
    "ar",
    "x",
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /max_position_embeddings 256/);
  const noTemplate = await cli([
    "generate",
    "--model",
    `${HF}/mistral`,
    "--method",
    "ar",
    "--chat",
    "x",
  ]);
  assert.equal(noTemplate.code, 2);
  assert.match(noTemplate.stderr, /--chat: .*no chat template/);
  const bad = await cli(["generate", "--system", "hi", "x"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--system is only used with --chat/);
});
