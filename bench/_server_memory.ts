// The server's memory over a load run, sampled at a fixed period, and the trend of its second
// half: a leak grows with the requests served, an allocator plateau does not.

/** One sample: the server's resident size (ps) and its V8 heap (its `/health`). */
export interface MemorySample {
  /** Seconds since the load started. */
  tS: number;
  /** Requests finished by then (all outcomes). */
  requests: number;
  /** Resident set size, MiB. */
  rss: number;
  /** V8 heap in use (live and not yet collected), MiB; absent when `/health` did not answer. */
  heapUsed?: number;
  /** V8 heap reserved, MiB. */
  heapTotal?: number;
  /** Array buffers and other memory V8 tracks outside its heap, MiB. */
  external?: number;
}

/** RSS over the samples taken from half time on. */
export interface SecondHalfTrend {
  /** Samples in the second half. */
  samples: number;
  /** Lowest and highest RSS, MiB: the band the RSS moves in. */
  min: number;
  max: number;
  /**
   * Highest RSS before half time, MiB (warm-up included, so at most the plateau): a leak lifts
   * `max` above it in proportion to the requests served; a plateau does not.
   */
  firstHalfMax: number;
  /** Least-squares slope of RSS over time, MiB per minute. */
  mibPerMinute: number;
  /** Least-squares slope of RSS over requests finished, MiB per 1000 requests. */
  mibPer1000Requests: number;
  /** Requests finished during the second half. */
  requests: number;
}

/** Resident memory of another process, via `ps` (reading /proc/<pid> needs --allow-all). */
export function rssMiB(pid: number): number {
  const out = new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).outputSync();
  const kb = Number(new TextDecoder().decode(out.stdout).trim() || NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

/** `/health`'s memory figures (MiB), or undefined when it does not answer within 5 s. */
async function heapMiB(base: string): Promise<Omit<MemorySample, "tS" | "requests" | "rss">> {
  try {
    const r = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5000) });
    const m = (await r.json()).memory;
    return m ? { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external } : {};
  } catch {
    return {};
  }
}

/**
 * Samples the server every `periodS` seconds until stopped.
 *
 * @param pid The server's process id.
 * @param base `http://127.0.0.1:PORT`.
 * @param periodS Seconds between samples.
 * @param requests Requests finished so far.
 * @returns `stop()`, which takes a last sample and returns them all.
 */
export function sampleMemory(
  pid: number,
  base: string,
  periodS: number,
  requests: () => number,
): { stop: () => Promise<MemorySample[]> } {
  const t0 = performance.now();
  const samples: MemorySample[] = [];
  const take = async (): Promise<void> => {
    const tS = Math.round((performance.now() - t0) / 100) / 10;
    const n = requests();
    const rss = rssMiB(pid);
    samples.push({ tS, requests: n, rss, ...(await heapMiB(base)) });
  };
  let pending = take();
  const timer = setInterval(() => {
    pending = pending.then(take);
  }, periodS * 1000);
  return {
    async stop(): Promise<MemorySample[]> {
      clearInterval(timer);
      await pending.then(take);
      return samples;
    },
  };
}

function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

/**
 * The RSS trend from `fromS` seconds on.
 *
 * @param samples The samples.
 * @param fromS Half time, seconds.
 * @returns Band and slopes (NaN with fewer than 3 samples).
 */
export function secondHalfTrend(samples: MemorySample[], fromS: number): SecondHalfTrend {
  const s = samples.filter((x) => x.tS >= fromS);
  const rss = s.map((x) => x.rss);
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  const enough = s.length >= 3;
  return {
    samples: s.length,
    min: Math.min(...rss),
    max: Math.max(...rss),
    firstHalfMax: Math.max(...samples.filter((x) => x.tS < fromS).map((x) => x.rss)),
    mibPerMinute: enough ? r2(60 * slope(s.map((x) => x.tS), rss)) : NaN,
    mibPer1000Requests: enough ? r2(1000 * slope(s.map((x) => x.requests), rss)) : NaN,
    requests: s.length > 0 ? s[s.length - 1]!.requests - s[0]!.requests : 0,
  };
}
