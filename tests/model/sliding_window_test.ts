// Sliding-window attention (Mistral-style, window 16) past the window, against transformers'
// greedy generate() on tests/fixtures/hf/mistral (make_fixtures.py).

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { argmax } from "../../lib/sampling/argmax.ts";

const DIR = fileURLToPath(new URL("../fixtures/hf/mistral", import.meta.url));
const expected = JSON.parse(Deno.readTextFileSync(`${DIR}/expected.json`)).sliding as {
  window: number;
  prompt_ids: number[];
  max_new_tokens: number;
  output_ids: number[];
};

Deno.test("CausalLM runs a sliding-window model past its window, token for token as transformers", async () => {
  assert.ok(expected.prompt_ids.length + expected.max_new_tokens > 2 * expected.window);
  using lm = await CausalLM.load(DIR, { maxLength: 128, threads: 1 });
  assert.equal(lm.config.slidingWindow, expected.window);
  const v = lm.vocabSize;
  let { logits } = await lm.prefill(expected.prompt_ids);
  const out: number[] = [];
  let tok = argmax(logits.subarray(logits.length - v));
  for (;;) {
    out.push(tok);
    if (out.length === expected.max_new_tokens) break;
    ({ logits } = await lm.forward([tok], [lm.kvLength]));
    tok = argmax(logits);
  }
  assert.deepEqual(out, expected.output_ids);
});

Deno.test("CausalLM masks the window in a multi-token forward as in single steps", async () => {
  using lm = await CausalLM.load(DIR, { maxLength: 128, threads: 1 });
  const v = lm.vocabSize;
  const ids = [...expected.prompt_ids, ...expected.output_ids.slice(0, 20)];
  // One forward over everything vs prefill + a 20-token chain: the last rows must agree.
  const all = (await lm.prefill(ids)).logits;
  const n = expected.prompt_ids.length;
  await lm.prefill(expected.prompt_ids);
  const chain = (await lm.forward(ids.slice(n), ids.slice(n).map((_, i) => n + i))).logits;
  for (let r = 0; r < 20; r++) {
    assert.equal(
      argmax(chain.subarray(r * v, (r + 1) * v)),
      argmax(all.subarray((n + r) * v, (n + r + 1) * v)),
    );
  }
});

Deno.test("CausalLM.load names max_position_embeddings when maxLength exceeds it", async () => {
  await assert.rejects(() => CausalLM.load(DIR, { maxLength: 257 }), /max_position_embeddings 256/);
});

Deno.test("the sliding-window fixture is sensitive: without the window the tokens differ", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const f of ["model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
      await Deno.copyFile(`${DIR}/${f}`, `${dir}/${f}`);
    }
    const config = JSON.parse(await Deno.readTextFile(`${DIR}/config.json`));
    delete config.sliding_window;
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    using lm = await CausalLM.load(dir, { maxLength: 128, threads: 1 });
    const v = lm.vocabSize;
    let { logits } = await lm.prefill(expected.prompt_ids);
    const out: number[] = [];
    let tok = argmax(logits.subarray(logits.length - v));
    while (out.length < expected.max_new_tokens) {
      out.push(tok);
      ({ logits } = await lm.forward([tok], [lm.kvLength]));
      tok = argmax(logits);
    }
    assert.notDeepEqual(out, expected.output_ids);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
