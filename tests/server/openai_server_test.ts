// The OpenAI-compatible server with the official `openai` client (streaming and not) and raw
// requests for malformed input, over the bundled tiny checkpoints and a chat-template fixture.

import assert from "node:assert/strict";
import OpenAI from "openai";
import { post, ROOT, startServer } from "./_server_fixture.ts";

const TARGET = `${ROOT}/models/tiny-target`;
const DRAFT = `${ROOT}/models/tiny-draft`;
const PROMPT = "def fibonacci(n):\n    ";
const NAME = "tiny";

function client(base: string): OpenAI {
  return new OpenAI({ apiKey: "unused", baseURL: `${base}/v1`, maxRetries: 0 });
}

interface Speculation {
  method: string;
  description: string;
  metrics: { acceptanceRate: number; finishReason: string };
}

Deno.test("OpenAIServer with the openai client: models, completions, streaming, speculation", async (t) => {
  const s = await startServer(
    { model: TARGET, draft: DRAFT, medusa: `${TARGET}/medusa`, eagle: `${TARGET}/eagle` },
    { modelName: NAME },
  );
  const openai = client(s.base);
  try {
    await t.step("models.list() names the served model and its methods", async () => {
      const list = await openai.models.list();
      assert.deepEqual(list.data.map((m) => m.id), [NAME]);
      const card = list.data[0] as unknown as { speculation: { methods: string[] } };
      assert.deepEqual([...card.speculation.methods].sort(), [
        "ar",
        "eagle",
        "lookup",
        "medusa",
        "speculative",
      ]);
      assert.equal((await openai.models.retrieve(NAME)).id, NAME);
    });

    const greedy = { model: NAME, prompt: PROMPT, max_tokens: 24, temperature: 0 };
    let arText = "";
    await t.step("completions: every method gives the autoregressive greedy text", async () => {
      const texts: Record<string, string> = {};
      for (const method of ["ar", "speculative", "medusa", "eagle", "lookup"]) {
        const r = await openai.completions.create({
          ...greedy,
          speculation: { method, k: 3 },
        } as never) as unknown as OpenAI.Completion & { speculation: Speculation };
        assert.equal(r.object, "text_completion");
        assert.equal(r.choices[0]!.finish_reason, "length");
        assert.equal(r.usage!.completion_tokens, 24);
        assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + 24);
        assert.equal(r.speculation.method, method);
        if (method === "speculative") assert.ok(r.speculation.metrics.acceptanceRate > 0);
        texts[method] = r.choices[0]!.text;
      }
      for (const method of ["speculative", "medusa", "eagle"]) {
        const r = await openai.completions.create({
          ...greedy,
          speculation: { method, lookup: 8 },
        } as never) as unknown as OpenAI.Completion & { speculation: Speculation };
        assert.match(r.speculation.description, /\+ lookup 8/, method);
        texts[`${method} + lookup 8`] = r.choices[0]!.text;
      }
      arText = texts.ar!;
      assert.ok(arText.length > 0);
      for (const [method, text] of Object.entries(texts)) assert.equal(text, arText, method);
    });

    await t.step(
      "completions stream: SSE chunks join to the same text, usage and [DONE]",
      async () => {
        const stream = await openai.completions.create({
          ...greedy,
          stream: true,
          stream_options: { include_usage: true },
          speculation: { method: "speculative" },
        } as never) as unknown as AsyncIterable<OpenAI.Completion & { speculation?: Speculation }>;
        let text = "";
        let finish: string | null = null;
        let usage: OpenAI.CompletionUsage | undefined;
        let speculation: Speculation | undefined;
        let chunks = 0;
        for await (const c of stream) {
          chunks++;
          if (c.choices[0]) {
            text += c.choices[0].text;
            finish = c.choices[0].finish_reason ?? finish;
          }
          if (c.usage) usage = c.usage;
          if (c.speculation) speculation = c.speculation;
        }
        assert.ok(chunks > 3, `${chunks} chunks`);
        assert.equal(text, arText);
        assert.equal(finish, "length");
        assert.equal(usage?.completion_tokens, 24);
        assert.equal(speculation?.method, "speculative");
      },
    );

    await t.step("raw SSE ends with data: [DONE]", async () => {
      const r = await fetch(`${s.base}/v1/completions`, {
        method: "POST",
        body: JSON.stringify({ ...greedy, max_tokens: 4, stream: true }),
      });
      assert.equal(r.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const body = await r.text();
      assert.ok(body.trimEnd().endsWith("data: [DONE]"), body);
    });

    await t.step("stop strings cut the text; sampling with a seed is reproducible", async () => {
      const cut = arText.slice(3, 6);
      const r = await openai.completions.create({ ...greedy, stop: [cut] });
      assert.equal(r.choices[0]!.text, arText.slice(0, arText.indexOf(cut)));
      assert.equal(r.choices[0]!.finish_reason, "stop");
      const sampled = {
        model: NAME,
        prompt: PROMPT,
        max_tokens: 16,
        temperature: 0.9,
        top_p: 0.95,
        seed: 11,
      };
      const a = await openai.completions.create(sampled);
      const b = await openai.completions.create(sampled);
      assert.equal(a.choices[0]!.text, b.choices[0]!.text);
      assert.equal((a as unknown as { speculation: { seed: number } }).speculation.seed, 11);
      // without a seed the server draws one and reports it: replaying it gives the same text
      const free = await openai.completions.create(
        { ...sampled, seed: undefined, top_k: 5 } as never,
      );
      const seed = (free as unknown as { speculation: { seed: number } }).speculation.seed;
      assert.ok(Number.isSafeInteger(seed));
      const replay = await openai.completions.create({ ...sampled, seed, top_k: 5 } as never);
      assert.equal(
        (replay as unknown as OpenAI.Completion).choices[0]!.text,
        (free as unknown as OpenAI.Completion).choices[0]!.text,
      );
    });

    await t.step("malformed requests get OpenAI-style errors naming the field", async () => {
      const cases: [unknown, number, string | null][] = [
        ["{not json", 400, null],
        [[1, 2], 400, null],
        [{ model: NAME }, 400, "prompt"],
        [{ model: NAME, prompt: 42 }, 400, "prompt"],
        [{ model: 7, prompt: "x" }, 400, "model"],
        [{ model: "nope", prompt: "x" }, 404, "model"],
        [{ ...greedy, max_tokens: 0 }, 400, "max_tokens"],
        [{ ...greedy, max_tokens: -3 }, 400, "max_tokens"],
        [{ ...greedy, max_tokens: 1e9 }, 400, "max_tokens"],
        [{ ...greedy, max_tokens: "ten" }, 400, "max_tokens"],
        [{ ...greedy, max_tokens: 2.5 }, 400, "max_tokens"],
        [{ ...greedy, temperature: "hot" }, 400, "temperature"],
        [{ ...greedy, temperature: 3 }, 400, "temperature"],
        [{ ...greedy, top_p: 0 }, 400, "top_p"],
        [{ ...greedy, seed: -1 }, 400, "seed"],
        [{ ...greedy, top_k: -1 }, 400, "top_k"],
        [{ ...greedy, stop: [1] }, 400, "stop"],
        [{ ...greedy, stream: "yes" }, 400, "stream"],
        [{ ...greedy, speculation: { method: "bogus" } }, 400, "speculation.method"],
        [{ ...greedy, speculation: { k: 0 } }, 400, "speculation.k"],
        [{ ...greedy, speculation: { lookup: 65 } }, 400, "speculation.lookup"],
        [{ ...greedy, speculation: { method: "lookup", lookup: 4 } }, 400, "speculation"],
        [{ ...greedy, speculation: "ar" }, 400, "speculation"],
        [{ ...greedy, prompt: "x ".repeat(3000) }, 400, "prompt"],
      ];
      for (const [body, status, param] of cases) {
        const r = await post(s.base, "/v1/completions", body);
        const label = JSON.stringify(body).slice(0, 80);
        assert.equal(r.status, status, label);
        const err = r.json.error as { message: string; type: string; param: string | null };
        assert.equal(typeof err.message, "string", label);
        assert.equal(err.param, param, `${label}: ${err.message}`);
      }
      const chat = await post(s.base, "/v1/chat/completions", {
        model: NAME,
        messages: [{ role: "wizard", content: "hi" }],
      });
      assert.equal(chat.status, 400);
      assert.equal((chat.json.error as { param: string }).param, "messages[0].role");
      // tiny-target has no chat template: a clear 400, before any stream starts
      const noTemplate = await post(s.base, "/v1/chat/completions", {
        model: NAME,
        messages: [{ role: "user", content: "hi" }],
        stream: true,
      });
      assert.equal(noTemplate.status, 400);
      assert.match((noTemplate.json.error as { message: string }).message, /chat template/);
      const big = await fetch(`${s.base}/v1/completions`, {
        method: "POST",
        body: JSON.stringify({ ...greedy, prompt: "a".repeat(10 * 1024 * 1024) }),
      });
      assert.equal(big.status, 413);
      assert.equal(((await big.json()).error as { code: string }).code, "body_too_large");
      const get = await fetch(`${s.base}/v1/completions`);
      assert.equal(get.status, 405);
      await get.body?.cancel();
      const unknown = await fetch(`${s.base}/v2/nothing`);
      assert.equal(unknown.status, 404);
      await unknown.body?.cancel();
      // the openai client surfaces them as typed errors
      await assert.rejects(
        () => openai.completions.create({ ...greedy, model: "nope" }),
        (e: unknown) => e instanceof OpenAI.NotFoundError,
      );
      await assert.rejects(
        () => openai.completions.create({ ...greedy, max_tokens: 0 }),
        (e: unknown) => e instanceof OpenAI.BadRequestError,
      );
      const health = await (await fetch(`${s.base}/health`)).json();
      assert.equal(health.status, "ok");
    });

    await t.step(
      "a client that disconnects cancels its generation and frees the slot",
      async () => {
        const before = await (await fetch(`${s.base}/health`)).json();
        const ac = new AbortController();
        const stream = await openai.completions.create({
          ...greedy,
          max_tokens: 900,
          stream: true,
          speculation: { method: "ar" },
        } as OpenAI.CompletionCreateParamsStreaming, { signal: ac.signal });
        for await (const _c of stream) break; // first chunk: it is running
        ac.abort();
        // the next request runs as soon as the slot is free; the cancelled one never finishes
        const r = await openai.completions.create({ ...greedy, max_tokens: 4 });
        assert.equal(r.usage!.completion_tokens, 4);
        const after = await (await fetch(`${s.base}/health`)).json();
        assert.equal(after.cancelled, before.cancelled + 1);
        assert.equal(after.served, before.served + 1);
        assert.equal(after.running, 0);
      },
    );
  } finally {
    await s.stop();
  }
});

Deno.test("OpenAIServer queues requests in order and answers 503 with Retry-After when full", async () => {
  // The slot holder runs up to 2000 tokens with the bench model: far longer than the few requests
  // this test makes meanwhile, so it is still running when they are checked.
  const s = await startServer(
    { model: `${ROOT}/models/bench-target`, maxLength: 2048 },
    { modelName: NAME, queueSize: 1 },
  );
  const openai = client(s.base);
  try {
    const ac = new AbortController();
    const long = await openai.completions.create({
      model: NAME,
      prompt: PROMPT,
      max_tokens: 2000,
      temperature: 0,
      stream: true,
    }, { signal: ac.signal });
    const it = long[Symbol.asyncIterator]();
    await it.next(); // running
    const waitFor = async (queued: number): Promise<void> => {
      for (let i = 0; i < 200 && s.server.load.queued !== queued; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual(s.server.load, { running: 1, queued });
    };
    // a waiting client that disconnects leaves the queue
    const leaver = new AbortController();
    const left = openai.completions.create(
      { model: NAME, prompt: PROMPT, max_tokens: 3 },
      { signal: leaver.signal },
    ).catch((e) => e);
    await waitFor(1);
    leaver.abort();
    assert.ok((await left) instanceof Error);
    await waitFor(0);
    const queued = openai.completions.create({ model: NAME, prompt: PROMPT, max_tokens: 3 });
    await waitFor(1);
    const full = await post(s.base, "/v1/completions", { model: NAME, prompt: PROMPT });
    assert.equal(full.status, 503);
    assert.ok(Number(full.headers.get("retry-after")) >= 1);
    assert.equal((full.json.error as { code: string }).code, "queue_full");
    ac.abort();
    const r = await queued;
    assert.equal(r.usage!.completion_tokens, 3);
  } finally {
    await s.stop();
  }
});

Deno.test("OpenAIServer chat completions: the chat template's ids, streaming and not", async () => {
  const dir = `${ROOT}/tests/fixtures/hf/smollm2`;
  const expected = JSON.parse(await Deno.readTextFile(`${dir}/expected.json`));
  const s = await startServer({ model: dir }, { modelName: "smol" });
  const openai = client(s.base);
  try {
    for (
      const c of expected.chat as {
        messages: OpenAI.ChatCompletionMessageParam[];
        input_ids: number[];
      }[]
    ) {
      const r = await openai.chat.completions.create({
        model: "smol",
        messages: c.messages,
        max_tokens: 8,
        temperature: 0,
      });
      assert.equal(r.object, "chat.completion");
      assert.equal(r.usage!.prompt_tokens, c.input_ids.length);
      assert.equal(r.choices[0]!.message.role, "assistant");
      const stream = await openai.chat.completions.create({
        model: "smol",
        messages: c.messages,
        max_tokens: 8,
        temperature: 0,
        stream: true,
      });
      let text = "";
      let role: string | undefined;
      for await (const chunk of stream) {
        role ??= chunk.choices[0]?.delta.role;
        text += chunk.choices[0]?.delta.content ?? "";
      }
      assert.equal(role, "assistant");
      assert.equal(text, r.choices[0]!.message.content);
    }
  } finally {
    await s.stop();
  }
});
