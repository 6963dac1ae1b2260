// Tokenizer, generation config and chat template against transformers' own outputs on the
// Llama-3-, Qwen2-, SmolLM2- and Mistral-style checkpoints of tests/fixtures/hf (make_fixtures.py).

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "../../lib/model/tokenizer.ts";
import { readGenerationConfig } from "../../lib/model/generation_config.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";

const HF = fileURLToPath(new URL("../fixtures/hf/", import.meta.url));

interface Expected {
  encode: { text: string; input_ids: number[] }[];
  chat: { messages: { role: string; content: string }[]; input_ids: number[]; text: string }[];
  special: Record<string, number>;
}

function expected(name: string): Expected {
  return JSON.parse(Deno.readTextFileSync(`${HF}${name}/expected.json`));
}

for (const name of ["llama3", "qwen2", "smollm2", "mistral"]) {
  Deno.test(`Tokenizer.encodePrompt() equals transformers' tokenizer(text).input_ids (${name})`, async () => {
    const tok = await Tokenizer.load(`${HF}${name}`);
    for (const { text, input_ids } of expected(name).encode) {
      assert.deepEqual(tok.encodePrompt(text), input_ids, JSON.stringify(text));
    }
  });
}

for (const name of ["llama3", "qwen2", "smollm2"]) {
  Deno.test(`Tokenizer.encodeChat() equals transformers' apply_chat_template(add_generation_prompt=True) (${name})`, async () => {
    const tok = await Tokenizer.load(`${HF}${name}`);
    for (const c of expected(name).chat) {
      assert.equal(tok.applyChatTemplate(c.messages), c.text);
      assert.deepEqual(tok.encodeChat(c.messages), c.input_ids);
    }
  });
}

Deno.test("Tokenizer.addBosToken follows the post-processor: Llama 3 adds BOS, Qwen2 and SmolLM2 do not", async () => {
  assert.equal((await Tokenizer.load(`${HF}llama3`)).addBosToken, true);
  assert.equal((await Tokenizer.load(`${HF}qwen2`)).addBosToken, false);
  assert.equal((await Tokenizer.load(`${HF}smollm2`)).addBosToken, false);
  const noBos = await Tokenizer.load(`${HF}llama3`, { addBosToken: false });
  assert.equal(noBos.addBosToken, false);
  assert.deepEqual(
    noBos.encodePrompt("Hello world"),
    expected("llama3").encode[0]!.input_ids.slice(1),
  );
  const tok = await Tokenizer.load(`${HF}llama3`);
  assert.deepEqual(tok.encodePrompt("Hello world", false), noBos.encodePrompt("Hello world"));
});

Deno.test("Tokenizer adds BOS as transformers 5 does: by the post-processor, whatever add_bos_token says", async () => {
  // LlamaTokenizerFast files whose add_bos_token disagrees with tokenizer.json's post-processor
  // (transformers rebuilds this class's BPE, so only the BOS decision is compared here).
  for (const [name, adds] of [["llama2-bos", false], ["llama2-nobos", true]] as const) {
    const tok = await Tokenizer.load(`${HF}${name}`);
    assert.equal(tok.addBosToken, adds, name);
    for (const { text, input_ids } of expected(name).encode) {
      assert.equal(input_ids[0] === tok.bosTokenId, adds, `${name}: transformers, ${text}`);
      assert.equal(tok.encodePrompt(text)[0] === tok.bosTokenId, adds, `${name}: ours, ${text}`);
    }
  }
});

Deno.test("Tokenizer.eosTokenIds holds the eos_token_id list of generation_config.json and the tokenizer's eos", async () => {
  const s = expected("llama3").special;
  const llama = await Tokenizer.load(`${HF}llama3`);
  assert.deepEqual(
    [...llama.eosTokenIds].sort(),
    [s["<|end_of_text|>"]!, s["<|eom_id|>"]!, s["<|eot_id|>"]!].sort(),
  );
  assert.equal(llama.eosTokenId, s["<|eot_id|>"]);
  const q = expected("qwen2").special;
  const qwen = await Tokenizer.load(`${HF}qwen2`);
  assert.deepEqual([...qwen.eosTokenIds].sort(), [q["<|im_end|>"]!, q["<|endoftext|>"]!].sort());
  assert.equal(qwen.bosTokenId, q["<|endoftext|>"]); // generation_config's bos; never added
  assert.equal(qwen.addBosToken, false);
});

Deno.test("readGenerationConfig() prefers generation_config.json, falls back to config.json", async () => {
  const g = await readGenerationConfig(`${HF}llama3`);
  assert.equal(g.eosTokenIds.length, 3);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ eos_token_id: [7, 9] }));
    assert.deepEqual((await readGenerationConfig(dir)).eosTokenIds, [7, 9]);
    await Deno.writeTextFile(`${dir}/generation_config.json`, "{ not json");
    await assert.rejects(() => readGenerationConfig(dir), SpecDecError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Tokenizer.encodeChat() without a chat template is a SpecDecError", async () => {
  const tok = await Tokenizer.load(`${HF}mistral`);
  assert.equal(tok.chatTemplate, undefined);
  assert.throws(() => tok.encodeChat([{ role: "user", content: "hi" }]), SpecDecError);
});

Deno.test("Tokenizer.encodeChat() names a malformed message field", async () => {
  const tok = await Tokenizer.load(`${HF}smollm2`);
  assert.throws(() => tok.encodeChat([{ role: "user" } as never]), /messages\[0\]\.content/);
  assert.throws(() => tok.encodeChat([]), TypeError);
});
