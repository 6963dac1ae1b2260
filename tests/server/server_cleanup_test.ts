// What cancelled and rejected requests leave behind in the OpenAI server: after clients that
// disconnect while running or queued (streaming and not) and requests answered 503, `/health`
// reports nothing running, queued or open.

import assert from "node:assert/strict";
import { post, ROOT, startServer } from "./_server_fixture.ts";

const NAME = "bench";
const PROMPT = "def fibonacci(n):\n    ";

interface Health {
  running: number;
  queued: number;
  open: number;
  served: number;
  cancelled: number;
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number };
}

/** Starts a request; its client can disconnect with `abort()`. */
function request(
  base: string,
  body: Record<string, unknown>,
): { response: Promise<Response | Error>; abort: () => void } {
  const ac = new AbortController();
  const response = fetch(`${base}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ model: NAME, prompt: PROMPT, temperature: 0, ...body }),
    signal: ac.signal,
  }).catch((e: Error) => e);
  return { response, abort: () => ac.abort() };
}

/** Reads a stream's first chunk (the generation is running). */
async function firstChunk(response: Promise<Response | Error>): Promise<void> {
  const r = await response;
  if (r instanceof Error) throw r;
  assert.equal(r.status, 200);
  const { done } = await r.body!.getReader().read();
  assert.equal(done, false);
}

Deno.test("OpenAIServer: cancelled and rejected requests leave nothing running, queued or open", async () => {
  // 2000 tokens with the bench model run far longer than this test's other requests.
  const s = await startServer(
    { model: `${ROOT}/models/bench-target`, maxLength: 2048 },
    { modelName: NAME, queueSize: 3 },
  );
  const health = async (): Promise<Health> => await (await fetch(`${s.base}/health`)).json();
  const until = async (ok: (h: Health) => boolean): Promise<Health> => {
    let h = await health();
    for (let i = 0; i < 500 && !ok(h); i++) {
      await new Promise((r) => setTimeout(r, 10));
      h = await health();
    }
    return h;
  };
  try {
    const before = await health();
    assert.equal(before.open, 0);
    assert.ok(before.memory.rss > 0 && before.memory.heapUsed > 0);
    const long = { max_tokens: 2000, stream: true, speculation: { method: "ar" } };
    const running = request(s.base, long);
    await firstChunk(running.response);
    // three wait: streaming, not streaming, and one that will run
    const queuedStream = request(s.base, long);
    const queuedPlain = request(s.base, { max_tokens: 2000 });
    const next = request(s.base, long);
    let h = await until((h) => h.queued === 3);
    assert.deepEqual([h.running, h.queued, h.open], [1, 3, 4]);
    // the queue is full: 503, nothing admitted
    for (let i = 0; i < 5; i++) {
      const r = await post(s.base, "/v1/completions", { model: NAME, prompt: PROMPT });
      assert.equal(r.status, 503);
    }
    h = await health();
    assert.deepEqual([h.running, h.queued, h.open], [1, 3, 4]);
    // queued clients leave
    queuedStream.abort();
    queuedPlain.abort();
    h = await until((h) => h.queued === 1);
    assert.deepEqual([h.running, h.queued, h.open], [1, 1, 2]);
    // the running client leaves: the next one runs; then it leaves too
    running.abort();
    await firstChunk(next.response);
    next.abort();
    h = await until((h) => h.open === 0);
    assert.deepEqual([h.running, h.queued, h.open], [0, 0, 0]);
    assert.equal(h.cancelled, before.cancelled + 2);
    assert.equal(h.served, before.served);
    assert.deepEqual(s.server.load, { running: 0, queued: 0 });
    assert.equal(s.server.open, 0);
    // and the server still serves
    const ok = await post(s.base, "/v1/completions", {
      model: NAME,
      prompt: PROMPT,
      max_tokens: 2,
    });
    assert.equal(ok.status, 200);
  } finally {
    await s.stop();
  }
});
