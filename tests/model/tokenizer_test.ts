import { assertEquals, assertRejects } from "./_assert.ts";
import { Tokenizer } from "../../lib/model/tokenizer.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";

const RANDOM = new URL("../fixtures/random/", import.meta.url).pathname;

Deno.test("Tokenizer round-trips text and finds special ids", async () => {
  const tok = await Tokenizer.load(`${RANDOM}llama`, { modelVocabSize: 256 });
  assertEquals(tok.vocabSize, 256);
  assertEquals(tok.bosTokenId, 0);
  assertEquals(tok.eosTokenId, 1);
  const text = "The quick brown fox speculates.";
  const ids = tok.encode(text);
  // Same ids as Hugging Face tokenizers (Python) on this file.
  assertEquals(ids, [43, 101, 97, 98, 31, 23, 20, 85, 24, 51, 2]);
  assertEquals(tok.decode(ids), text);
});

Deno.test("Tokenizer.load() rejects a vocabulary larger than the model's, naming both sizes", async () => {
  const err = await assertRejects(
    () => Tokenizer.load(`${RANDOM}tokenizer-320`, { modelVocabSize: 256 }),
    SpecDecError,
  );
  assertEquals(err.message.includes("320"), true);
  assertEquals(err.message.includes("256"), true);
});

Deno.test("Tokenizer.load() names a missing tokenizer.json", async () => {
  await assertRejects(
    () => Tokenizer.load("/nonexistent"),
    SpecDecError,
    "/nonexistent/tokenizer.json",
  );
});
