import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { parseModelConfig, readModelConfig } from "../../lib/model/config.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";

const RANDOM = new URL("../fixtures/random/", import.meta.url).pathname;

Deno.test("readModelConfig() normalises every random checkpoint", async () => {
  const llama = await readModelConfig(`${RANDOM}llama`);
  assertEquals(llama.family, "llama");
  assertEquals(llama.numKvHeads, 2);
  assertEquals(llama.headDim, 16);
  assertEquals(llama.ropeTheta, 10000);
  assertEquals(llama.tieWordEmbeddings, true);
  const qwen = await readModelConfig(`${RANDOM}qwen2`);
  assertEquals(qwen.modelType, "qwen2");
  const gpt2 = await readModelConfig(`${RANDOM}gpt2`);
  assertEquals(gpt2.family, "gpt2");
  assertEquals(gpt2.numKvHeads, gpt2.numHeads);
  assertEquals(gpt2.intermediateSize, 4 * gpt2.hiddenSize);
  assertEquals((await readModelConfig(`${RANDOM}mistral`)).tieWordEmbeddings, false);
  const l3 = await readModelConfig(`${RANDOM}llama3-rope`);
  assertEquals(l3.ropeScaling, {
    type: "llama3",
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositionEmbeddings: 64,
  });
  assertEquals(l3.ropeTheta, 500000);
});

Deno.test("readModelConfig() names a missing config.json", async () => {
  const dir = await Deno.makeTempDir();
  const err = await assertRejects(() => readModelConfig(dir), SpecDecError);
  assertEquals(err.message.includes(`${dir}/config.json`), true);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readModelConfig() names a malformed config.json", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/config.json`, "{ not json");
  const err = await assertRejects(() => readModelConfig(dir), SpecDecError);
  assertEquals(err.message.startsWith(`Malformed JSON in ${dir}/config.json`), true);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseModelConfig() names an unsupported architecture", () => {
  const err = assertThrows(
    () =>
      parseModelConfig(
        { model_type: "mamba", architectures: ["MambaForCausalLM"] },
        "x/config.json",
      ),
    SpecDecError,
  );
  assertEquals(err.message.includes('"mamba"'), true);
  assertEquals(err.message.includes("MambaForCausalLM"), true);
  assertEquals(err.message.includes("x/config.json"), true);
});

Deno.test("parseModelConfig() rejects missing or invalid fields by name", () => {
  const base = {
    model_type: "llama",
    vocab_size: 10,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 1,
    num_attention_heads: 2,
  };
  assertEquals(parseModelConfig(base).numKvHeads, 2);
  const err = assertThrows(() => parseModelConfig({ ...base, vocab_size: -1 }), SpecDecError);
  assertEquals(err.message.includes('"vocab_size"'), true);
  assertThrows(() => parseModelConfig({ ...base, num_key_value_heads: 3 }), SpecDecError);
  assertThrows(() => parseModelConfig([1, 2]), SpecDecError);
  assertThrows(() => parseModelConfig({ vocab_size: 3 }), SpecDecError, '"model_type" is missing');
  assertThrows(
    () => parseModelConfig({ ...base, rope_scaling: { rope_type: "yarn", factor: 4 } }),
    SpecDecError,
    '"yarn"',
  );
});
