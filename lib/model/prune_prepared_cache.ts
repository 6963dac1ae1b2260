/**
 * Keeps the prepared-model cache bounded. A checkpoint is keyed by its folder's real path and
 * file identity (see `prepared_cache.ts`), so every temporary or re-saved checkpoint leaves an
 * entry no later load can hit; and a user who tries many models collects gigabytes. After each
 * new entry, {@linkcode prunePreparedCache} removes:
 *
 * 1. entries whose checkpoint folder is gone or changed (they can never be hit again);
 * 2. temporary folders of builds that died more than an hour ago;
 * 3. the least recently used entries while the cache holds more than its budget
 *    (`SPECDEC_CACHE_MAX_GB`, default 20; the entry just made or used is always kept).
 *
 * A hit refreshes its entry's last-use time (the `weights.json` modification time). Removing
 * an entry another process has open is safe: ONNX Runtime holds its own file handles.
 *
 * @module
 */

import { SpecDecError, StatusCode } from "../runtime/errors.ts";
import { checkpointIdentity } from "./prepared_cache.ts";

/** Default budget of the prepared-model cache, GiB (`SPECDEC_CACHE_MAX_GB`). */
export const DEFAULT_CACHE_MAX_GB = 20;

/** Age after which a `.tmp-*` build folder is an orphan, ms. */
const TMP_ORPHAN_MS = 3600_000;

/** Options of {@linkcode prunePreparedCache}. */
export interface PruneOptions {
  /** Budget in bytes (default: {@linkcode cacheMaxBytes}). */
  maxBytes?: number;
  /** An entry folder never removed (the one just made or used). */
  keep?: string;
  /** The current time, ms since the epoch (default `Date.now()`; for tests). */
  now?: number;
}

/** What {@linkcode prunePreparedCache} removed. */
export interface PruneReport {
  /** Removed folders, with why. */
  removed: { path: string; reason: "source-gone" | "source-changed" | "orphan" | "budget" }[];
  /** Bytes freed. */
  freedBytes: number;
  /** Bytes the cache holds afterwards. */
  keptBytes: number;
}

/**
 * The cache budget: `SPECDEC_CACHE_MAX_GB` (a positive number of GiB) or
 * {@linkcode DEFAULT_CACHE_MAX_GB}.
 *
 * @returns Bytes.
 * @throws {SpecDecError} `INVALID_ARGUMENT` when the variable is set to something else.
 */
export function cacheMaxBytes(): number {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("SPECDEC_CACHE_MAX_GB");
  } catch {
    raw = undefined;
  }
  if (raw === undefined || raw === "") return DEFAULT_CACHE_MAX_GB * 2 ** 30;
  const gb = Number(raw);
  if (!Number.isFinite(gb) || gb <= 0) {
    throw new SpecDecError(
      `SPECDEC_CACHE_MAX_GB must be a positive number of GiB, got '${raw}'`,
      StatusCode.INVALID_ARGUMENT,
    );
  }
  return Math.floor(gb * 2 ** 30);
}

interface Entry {
  path: string;
  bytes: number;
  lastUsed: number;
  source?: string;
  identity?: string;
}

/**
 * Removes unreachable entries, orphaned build folders and, past the budget, the least
 * recently used entries of `<root>/prepared`. Never throws for a file that vanished meanwhile
 * (another process may prune at the same time).
 *
 * @example Prune a cache folder to 1 GiB: a build that died two hours ago is an orphan
 * ```ts
 * import { prunePreparedCache } from "@specdec/specdec";
 * const root = await Deno.makeTempDir(); // a cache root, as SPECDEC_CACHE names one
 * await Deno.mkdir(`${root}/prepared/.tmp-build`, { recursive: true });
 * await Deno.writeTextFile(`${root}/prepared/.tmp-build/model.onnx`, "partial");
 * const now = Date.now() + 2 * 3600_000;
 * const report = await prunePreparedCache(root, { maxBytes: 2 ** 30, now });
 * if (report.removed[0]?.reason !== "orphan" || report.freedBytes !== 7) {
 *   throw new Error("unexpected");
 * }
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @param root The cache root (the folder that holds `prepared/`).
 * @param options Budget, the entry to keep, the clock.
 * @returns What was removed.
 */
export async function prunePreparedCache(
  root: string,
  options: PruneOptions = {},
): Promise<PruneReport> {
  const maxBytes = options.maxBytes ?? cacheMaxBytes();
  const now = options.now ?? Date.now();
  const prepared = `${root}/prepared`;
  const report: PruneReport = { removed: [], freedBytes: 0, keptBytes: 0 };
  const remove = async (e: Entry, reason: PruneReport["removed"][number]["reason"]) => {
    try {
      await Deno.remove(e.path, { recursive: true });
      report.removed.push({ path: e.path, reason });
      report.freedBytes += e.bytes;
    } catch {
      // gone already, or not ours to remove: leave it
    }
  };
  const entries: Entry[] = [];
  let names: Deno.DirEntry[];
  try {
    names = await Array.fromAsync(Deno.readDir(prepared));
  } catch {
    return report;
  }
  for (const d of names) {
    if (!d.isDirectory) continue;
    const e = await scan(`${prepared}/${d.name}`);
    if (e === undefined) continue;
    if (d.name.startsWith(".tmp-")) {
      if (now - e.lastUsed > TMP_ORPHAN_MS) await remove(e, "orphan");
      continue;
    }
    entries.push(e);
  }
  // 1. Unreachable: the source folder is gone or no longer has the recorded identity.
  const identities = new Map<string, string | undefined>();
  const live: Entry[] = [];
  for (const e of entries) {
    if (e.path !== options.keep && e.source !== undefined && e.identity !== undefined) {
      if (!identities.has(e.source)) {
        identities.set(e.source, await checkpointIdentity(e.source).catch(() => undefined));
      }
      const current = identities.get(e.source);
      if (current === undefined) {
        await remove(e, "source-gone");
        continue;
      }
      if (current !== e.identity) {
        await remove(e, "source-changed");
        continue;
      }
    }
    live.push(e);
  }
  // 3. Least recently used past the budget.
  live.sort((a, b) => a.lastUsed - b.lastUsed);
  let total = live.reduce((s, e) => s + e.bytes, 0);
  for (const e of live) {
    if (total <= maxBytes) break;
    if (e.path === options.keep) continue;
    await remove(e, "budget");
    total -= e.bytes;
  }
  report.keptBytes = total;
  return report;
}

/** Size, last use and source of one entry folder; undefined when it vanished. */
async function scan(path: string): Promise<Entry | undefined> {
  let bytes = 0;
  let lastUsed = 0;
  try {
    lastUsed = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    for await (const f of Deno.readDir(path)) {
      if (!f.isFile) continue;
      const st = await Deno.stat(`${path}/${f.name}`);
      bytes += st.size;
      if (f.name === "weights.json") lastUsed = Math.max(lastUsed, st.mtime?.getTime() ?? 0);
    }
  } catch {
    return undefined;
  }
  const e: Entry = { path, bytes, lastUsed };
  try {
    const meta = JSON.parse(await Deno.readTextFile(`${path}/weights.json`));
    if (typeof meta?.sourcePath === "string" && typeof meta?.identity === "string") {
      e.source = meta.sourcePath;
      e.identity = meta.identity;
    }
  } catch {
    // no record (an older entry, or one being written): only the budget applies
  }
  return e;
}

/**
 * Marks an entry as used now (its `weights.json` modification time), for the budget's
 * least-recently-used order. Best effort: a read-only cache stays as it is.
 *
 * @param entry The entry folder.
 */
export async function touchPrepared(entry: string): Promise<void> {
  const t = new Date();
  await Deno.utime(`${entry}/weights.json`, t, t).catch(() => {});
}
