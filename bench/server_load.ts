/**
 * Load benchmark of `mod.ts serve` (not a test): many concurrent streaming
 * clients, some of which cancel mid-stream, for a bounded time. Reports
 * completed / cancelled / rejected requests, time to first token and tokens/s
 * percentiles, and the server's memory: RSS (and V8 heap, from `/health`) sampled through the run,
 * with the second half's trend (a leak grows with the requests served; an allocator plateau does
 * not), and whether the server is idle (nothing running, queued or open) once the clients stop.
 *
 * ```sh
 * npx -y deno@2.9.6 task bench:server [--clients 64] [--duration 180] [--cancel 0.25]
 *   [--model DIR --draft DIR] [--queue-size 16] [--max-tokens 48] [--out results/server_load]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import {
  type MemorySample,
  rssMiB,
  sampleMemory,
  type SecondHalfTrend,
  secondHalfTrend,
} from "./_server_memory.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");

/** Options of {@linkcode runServerLoad}. */
export interface ServerLoadOptions {
  /** Concurrent clients. */
  clients: number;
  /** Seconds during which clients start new requests. */
  durationS: number;
  /** Probability that a request is cancelled after its first few chunks. */
  cancelProbability: number;
  /** Target model folder. */
  model: string;
  /** Draft model folder. */
  draft: string;
  /** Server queue size. */
  queueSize: number;
  /** Largest `max_tokens` of a request (each picks 8..this). */
  maxTokens: number;
  /** Seed of the clients' random choices. */
  seed: number;
}

/** One request's outcome. */
interface Sample {
  outcome: "completed" | "cancelled" | "rejected" | "failed";
  method: string;
  ttftMs?: number;
  tokensPerSecond?: number;
  latencyMs?: number;
  tokens?: number;
}

/** The report written to results/. */
export interface ServerLoadReport {
  /** When and where it ran. */
  machine: {
    cpu: string;
    cores: number;
    loadavgBefore: number[];
    loadavgAfter: number[];
    date: string;
  };
  /** The options. */
  options: ServerLoadOptions;
  /** Wall time of the load phase, seconds. */
  wallS: number;
  /** Request counts. */
  counts: { completed: number; cancelled: number; rejected: number; failed: number; total: number };
  /** Time to first token of completed and cancelled requests (ms): p50, p90, p99, max. */
  ttftMs: Record<string, number>;
  /** Per-request decode tokens/s of completed requests: p10, p50, p90. */
  tokensPerSecond: Record<string, number>;
  /** End-to-end latency of completed requests (ms): p50, p90, p99, max. */
  latencyMs: Record<string, number>;
  /** Generated tokens over the run, and per second of wall time. */
  throughput: { tokens: number; tokensPerSecond: number };
  /**
   * Server resident set size (MiB): after warm-up, at half time (under load), right after the
   * load, after settling; and its trend over the second half of the load.
   */
  rssMiB: {
    before: number;
    half: number;
    after: number;
    settled: number;
    secondHalf: SecondHalfTrend;
  };
  /** The server's memory every `durationS / 40` seconds (at least 1) during the load. */
  memorySamples: MemorySample[];
  /** Milliseconds after the clients stopped until `/health` showed nothing running, queued or open. */
  idleAfterMs: number;
  /** `/health` once idle (or after 10 s): nothing running, queued or open. */
  healthAfter: Record<string, unknown>;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const PROMPTS = [
  "def fibonacci(n):\n    ",
  "import os\nimport sys\n\ndef main():\n",
  "class Stack:\n    def __init__(self):",
  "def read_config(path):\n    with open(path) as f:",
  "for i in range(10):\n    if i % 2 == 0:",
  "def quicksort(xs):\n    if len(xs) <= 1:",
];

async function oneRequest(
  base: string,
  rand: () => number,
  options: ServerLoadOptions,
  methods: string[],
): Promise<{ sample: Sample; retryAfterS?: number }> {
  const method = methods[Math.floor(rand() * methods.length)]!;
  const prompt = PROMPTS[Math.floor(rand() * PROMPTS.length)]!;
  const maxTokens = 8 + Math.floor(rand() * (options.maxTokens - 7));
  const cancelAfter = rand() < options.cancelProbability ? 1 + Math.floor(rand() * 4) : Infinity;
  const ac = new AbortController();
  const t0 = performance.now();
  let res: Response;
  try {
    res = await fetch(`${base}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({
        model: "bench",
        prompt,
        max_tokens: maxTokens,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
        speculation: { method },
      }),
      signal: ac.signal,
    });
  } catch {
    return { sample: { outcome: "failed", method } };
  }
  if (res.status === 503) {
    await res.body?.cancel();
    return {
      sample: { outcome: "rejected", method },
      retryAfterS: Number(res.headers.get("retry-after") ?? "1"),
    };
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    return { sample: { outcome: "failed", method } };
  }
  let first: number | undefined;
  let chunks = 0;
  let tokens = 0;
  let buffer = "";
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let at;
      while ((at = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, at).replace(/^data: /, "");
        buffer = buffer.slice(at + 2);
        if (line === "[DONE]") continue;
        const c = JSON.parse(line);
        if (c.error) return { sample: { outcome: "failed", method } };
        if (c.usage) tokens = c.usage.completion_tokens;
        if (c.choices?.[0]?.text) {
          first ??= performance.now();
          chunks++;
          if (chunks >= cancelAfter) {
            ac.abort();
            await reader.cancel().catch(() => {});
            return { sample: { outcome: "cancelled", method, ttftMs: first - t0 } };
          }
        }
      }
    }
  } catch {
    return { sample: { outcome: "failed", method } };
  }
  const end = performance.now();
  const decodeS = first !== undefined ? (end - first) / 1000 : NaN;
  return {
    sample: {
      outcome: "completed",
      method,
      ttftMs: first !== undefined ? first - t0 : end - t0,
      latencyMs: end - t0,
      tokens,
      tokensPerSecond: tokens > 1 && decodeS > 0 ? (tokens - 1) / decodeS : NaN,
    },
  };
}

/**
 * Starts `mod.ts serve`, loads it with concurrent streaming clients and reports.
 *
 * @param options Clients, duration, models.
 * @returns The report.
 */
export async function runServerLoad(options: ServerLoadOptions): Promise<ServerLoadReport> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "mod.ts",
      "serve",
      "--port",
      "0",
      "--name",
      "bench",
      "--model",
      options.model,
      "--draft",
      options.draft,
      "--queue-size",
      String(options.queueSize),
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let base = "";
  while (!base) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited:\n${seen}`);
    seen += value;
    base = /on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(seen)?.[1] ?? "";
  }
  (async () => {
    for (;;) if ((await reader.read()).done) return;
  })();
  try {
    const card = await (await fetch(`${base}/v1/models`)).json();
    const methods: string[] = card.data[0].speculation.methods;
    // warm-up: one request per method
    for (const method of methods) {
      const r = await fetch(`${base}/v1/completions`, {
        method: "POST",
        body: JSON.stringify({
          model: "bench",
          prompt: PROMPTS[0],
          max_tokens: 8,
          speculation: { method },
        }),
      });
      await r.body?.cancel();
    }
    const loadBefore = Deno.loadavg();
    const before = rssMiB(child.pid);
    const samples: Sample[] = [];
    const t0 = performance.now();
    const deadline = t0 + options.durationS * 1000;
    // RSS at half time, under load: once the allocators reached their high-water mark, a leak
    // shows as growth from here to the end; the rise from `before` is warm-up.
    let half = Number.NaN;
    const halfTimer = setTimeout(() => half = rssMiB(child.pid), options.durationS * 500);
    const sampler = sampleMemory(
      child.pid,
      base,
      Math.max(1, options.durationS / 40),
      () => samples.length,
    );
    const clients = Array.from({ length: options.clients }, async (_, i) => {
      const rand = mulberry32(options.seed * 1000 + i);
      while (performance.now() < deadline) {
        const { sample, retryAfterS } = await oneRequest(base, rand, options, methods);
        samples.push(sample);
        if (retryAfterS !== undefined) {
          const wait = Math.min(retryAfterS * 1000, deadline - performance.now());
          if (wait > 0) await new Promise((r) => setTimeout(r, wait * (0.5 + rand())));
        }
      }
    });
    await Promise.all(clients);
    clearTimeout(halfTimer);
    const wallS = (performance.now() - t0) / 1000;
    const memorySamples = await sampler.stop();
    const after = rssMiB(child.pid);
    // "No session left open": cancelled generations end at their next step; wait for that.
    const stopped = performance.now();
    let health = await (await fetch(`${base}/health`)).json();
    while (health.running + health.queued + (health.open ?? 0) > 0) {
      if (performance.now() - stopped > 10_000) break;
      await new Promise((r) => setTimeout(r, 20));
      health = await (await fetch(`${base}/health`)).json();
    }
    const idleAfterMs = Math.round(performance.now() - stopped);
    await new Promise((r) => setTimeout(r, 2000));
    const settled = rssMiB(child.pid);
    const loadAfter = Deno.loadavg();
    const by = (o: Sample["outcome"]): Sample[] => samples.filter((s) => s.outcome === o);
    const completed = by("completed");
    const ttft = [...completed, ...by("cancelled")].map((s) => s.ttftMs!).filter(Number.isFinite);
    const tps = completed.map((s) => s.tokensPerSecond!).filter(Number.isFinite);
    const lat = completed.map((s) => s.latencyMs!);
    const tokens = completed.reduce((a, s) => a + (s.tokens ?? 0), 0);
    const r1 = (x: number): number => Math.round(x * 10) / 10;
    return {
      machine: {
        cpu: cpus()[0]?.model ?? "unknown",
        cores: navigator.hardwareConcurrency,
        loadavgBefore: loadBefore.map(r1),
        loadavgAfter: loadAfter.map(r1),
        date: new Date().toISOString(),
      },
      options,
      wallS: r1(wallS),
      counts: {
        completed: completed.length,
        cancelled: by("cancelled").length,
        rejected: by("rejected").length,
        failed: by("failed").length,
        total: samples.length,
      },
      ttftMs: {
        p50: r1(percentile(ttft, 50)),
        p90: r1(percentile(ttft, 90)),
        p99: r1(percentile(ttft, 99)),
        max: r1(Math.max(...ttft)),
      },
      tokensPerSecond: {
        p10: r1(percentile(tps, 10)),
        p50: r1(percentile(tps, 50)),
        p90: r1(percentile(tps, 90)),
      },
      latencyMs: {
        p50: r1(percentile(lat, 50)),
        p90: r1(percentile(lat, 90)),
        p99: r1(percentile(lat, 99)),
        max: r1(Math.max(...lat)),
      },
      throughput: { tokens, tokensPerSecond: r1(tokens / wallS) },
      rssMiB: {
        before,
        half,
        after,
        settled,
        secondHalf: secondHalfTrend(memorySamples, options.durationS / 2),
      },
      memorySamples,
      idleAfterMs,
      healthAfter: health,
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

/**
 * The report as Markdown (the benchmark report's server section can embed it).
 *
 * @param r The report.
 * @returns Markdown text.
 */
export function serverLoadMarkdown(r: ServerLoadReport): string {
  const o = r.options;
  return `## Server under load (\`deno task bench:server\`)

${o.clients} concurrent streaming clients for ${o.durationS} s against \`mod.ts serve\` (${o.model}, draft ${o.draft}),
queue size ${o.queueSize}, max_tokens 8..${o.maxTokens}, greedy, a random speculation method per request
(the server counted ${String(r.healthAfter.served ?? "?")} completed, warm-up included), ${
    Math.round(o.cancelProbability * 100)
  }% of requests cancelled after 1-4 chunks.
A rejected (503) client waits its Retry-After (jittered) and tries again.
Machine: ${r.machine.cpu}, ${r.machine.cores} cores, load average ${
    r.machine.loadavgBefore.join(" / ")
  } before,
${r.machine.loadavgAfter.join(" / ")} after (shared machine), ${r.machine.date}.

| requests | completed | cancelled | rejected (503) | failed | wall |
|---:|---:|---:|---:|---:|---:|
| ${r.counts.total} | ${r.counts.completed} | ${r.counts.cancelled} | ${r.counts.rejected} | ${r.counts.failed} | ${r.wallS} s |

| metric | p50 | p90 | p99 | max |
|---|---:|---:|---:|---:|
| time to first token (ms, completed + cancelled) | ${r.ttftMs.p50} | ${r.ttftMs.p90} | ${r.ttftMs.p99} | ${r.ttftMs.max} |
| latency (ms, completed) | ${r.latencyMs.p50} | ${r.latencyMs.p90} | ${r.latencyMs.p99} | ${r.latencyMs.max} |

Decode tokens/s per completed request: p10 ${r.tokensPerSecond.p10}, p50 ${r.tokensPerSecond.p50}, p90 ${r.tokensPerSecond.p90}.
Server throughput: ${r.throughput.tokens} tokens in ${r.wallS} s = ${r.throughput.tokensPerSecond} tok/s (one request at a time).

${memoryMarkdown(r)}
\`/health\` ${r.idleAfterMs} ms after the clients stopped: running ${
    String(r.healthAfter.running)
  }, queued ${String(r.healthAfter.queued)}, open ${String(r.healthAfter.open)}, cancelled ${
    String(r.healthAfter.cancelled)
  }.
`;
}

function memoryMarkdown(r: ServerLoadReport): string {
  const m = r.rssMiB;
  const h = m.secondHalf;
  const every = Math.max(1, Math.ceil(r.memorySamples.length / 10));
  const trace = r.memorySamples.filter((_, i) =>
    i % every === 0 || i === r.memorySamples.length - 1
  )
    .map((x) => `${Math.round(x.tS)} s ${x.rss}`).join(", ");
  const last = r.memorySamples[r.memorySamples.length - 1];
  const heap = last?.heapUsed !== undefined
    ? ` V8 heap at the end: ${last.heapUsed} MiB used of ${last.heapTotal} reserved, ${last.external} MiB external.`
    : "";
  return `Server RSS: ${m.before} MiB after warm-up, ${m.half} MiB at half time (under load), ${m.after} MiB right after the load, ${m.settled} MiB 2 s later.
Over the second half (${h.samples} samples, ${h.requests} requests) the RSS stays within ${h.min}..${h.max} MiB (highest in the first half, warm-up included: ${h.firstHalfMax} MiB); its trend is ${h.mibPerMinute} MiB/min, ${h.mibPer1000Requests} MiB per 1000 requests (a leak lifts the high-water mark with the requests served; an allocator plateau does not).${heap}
RSS (MiB) through the load: ${trace}.`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      clients: { type: "string" },
      duration: { type: "string" },
      cancel: { type: "string" },
      model: { type: "string" },
      draft: { type: "string" },
      "queue-size": { type: "string" },
      "max-tokens": { type: "string" },
      seed: { type: "string" },
      out: { type: "string" },
    },
  });
  const options: ServerLoadOptions = {
    clients: Number(values.clients ?? 64),
    durationS: Number(values.duration ?? 180),
    cancelProbability: Number(values.cancel ?? 0.25),
    model: values.model ?? "models/bench-target",
    draft: values.draft ?? "models/bench-draft",
    queueSize: Number(values["queue-size"] ?? 16),
    maxTokens: Number(values["max-tokens"] ?? 48),
    seed: Number(values.seed ?? 1),
  };
  const report = await runServerLoad(options);
  const out = values.out ?? "results/server_load";
  await Deno.writeTextFile(`${out}.json`, JSON.stringify(report, null, 2) + "\n");
  await Deno.writeTextFile(`${out}.md`, serverLoadMarkdown(report));
  console.log(serverLoadMarkdown(report));
}
