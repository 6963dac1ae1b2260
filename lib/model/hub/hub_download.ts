/**
 * Downloads one file of a Hugging Face-compatible hub repository into the standard cache layout
 * shared with `huggingface_hub` and transformers:
 *
 * ```
 * $HF_HUB_CACHE/models--org--name/
 *   blobs/<etag>                      file contents (LFS: the sha256; else the git blob sha1)
 *   refs/<revision>                   the commit a branch or tag pointed to
 *   snapshots/<commit>/<path>         relative symlink to ../../blobs/<etag>
 *   .no_exist/<commit>/<path>         marks an optional file the repository does not have
 * ```
 *
 * The protocol is the hub's `resolve` endpoint as `huggingface_hub` uses it: a `HEAD` (redirects
 * not followed) gives `X-Repo-Commit`, `X-Linked-Etag` / `ETag` and `X-Linked-Size` /
 * `Content-Length`; the `GET` follows the redirect to the CDN. A transfer goes to
 * `blobs/<etag>.incomplete`, resumes with `Range` after an interruption (also in a later run), is
 * checked for size and hash (sha256 for LFS files, git's blob sha1 otherwise) and only then renamed
 * into place; a file that fails its check is deleted. A lock file keeps two processes off one blob.
 *
 * Why not npm `@huggingface/hub`'s `downloadFileToCacheDir`: it asks the `paths-info` API instead of
 * the `resolve` headers, rewrites a partial download from scratch (no resume), checks neither size
 * nor hash, has no offline mode and no progress, and writes no `refs/`. The cache layout is the same.
 *
 * Env: `HF_ENDPOINT` (default `https://huggingface.co`), `HF_HOME` / `HF_HUB_CACHE` (default
 * `~/.cache/huggingface/hub`), `HF_TOKEN` (else the `token` file of `huggingface-cli login`),
 * `HF_HUB_OFFLINE=1` (cache only).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { SpecDecError, StatusCode } from "../../runtime/errors.ts";
import { ProgressBar, type ProgressSink } from "../../util/progress_bar.ts";
import { lock } from "../../runtime/_file_lock.ts";

/** Options of {@linkcode hubDownload}. */
export interface HubDownloadOptions {
  /** Branch, tag or commit (default `main`). */
  revision?: string;
  /** Hub URL (default `HF_ENDPOINT`, else `https://huggingface.co`). */
  endpoint?: string;
  /** Cache folder (default `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`). */
  cacheDir?: string;
  /** Access token for gated or private repositories (default `HF_TOKEN`). */
  token?: string;
  /** Use only the cache (default: `HF_HUB_OFFLINE` is `1`/`true`). */
  offline?: boolean;
  /** A missing file gives `undefined` instead of an error. */
  optional?: boolean;
  /** Where the progress bar goes; `null` for none (default: stderr). */
  progress?: ProgressSink | null;
  /** Transfer attempts per file, resuming each time (default 3). */
  attempts?: number;
}

/**
 * The Hugging Face hub cache folder: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
 * `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
 *
 * @returns An absolute folder path (not created).
 *
 * @example The default cache folder
 * ```ts
 * import { hubCacheDir } from "@specdec/specdec";
 * if (!hubCacheDir().endsWith("hub")) throw new Error("unexpected");
 * ```
 */
export function hubCacheDir(): string {
  const env = (name: string): string | undefined => Deno.env.get(name) || undefined;
  const hub = env("HF_HUB_CACHE") ?? env("HUGGINGFACE_HUB_CACHE");
  if (hub !== undefined) return hub.replace(/\/$/, "");
  return `${hfHome()}/hub`;
}

function hfHome(): string {
  const env = (name: string): string | undefined => Deno.env.get(name) || undefined;
  const home = env("HF_HOME") ??
    (env("XDG_CACHE_HOME") !== undefined ? `${env("XDG_CACHE_HOME")}/huggingface` : undefined) ??
    `${env("HOME") ?? "."}/.cache/huggingface`;
  return home.replace(/\/$/, "");
}

/**
 * Whether `HF_HUB_OFFLINE` asks for the cache only.
 *
 * @returns `true` for `1`, `true`, `yes` or `on`.
 */
export function hubOffline(): boolean {
  return ["1", "true", "yes", "on"].includes((Deno.env.get("HF_HUB_OFFLINE") ?? "").toLowerCase());
}

function hubToken(): string | undefined {
  const env = Deno.env.get("HF_TOKEN") || Deno.env.get("HUGGING_FACE_HUB_TOKEN");
  if (env) return env;
  try {
    const path = Deno.env.get("HF_TOKEN_PATH") || `${hfHome()}/token`;
    return Deno.readTextFileSync(path).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `models--org--name` */
function repoFolder(repo: string): string {
  return `models--${repo.split("/").join("--")}`;
}

function hubError(message: string, cause?: unknown): SpecDecError {
  return new SpecDecError(message, StatusCode.IO, cause === undefined ? undefined : { cause });
}

const OFFLINE_HINT = "set HF_HUB_OFFLINE=1 to use only the cache";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}

/** What the `HEAD` of a resolve URL says about a file. */
interface FileMetadata {
  commit: string;
  etag: string;
  size: number;
  /** Where to `GET` it (the CDN location for LFS files). */
  location: string;
}

function stripEtag(etag: string | null): string | undefined {
  if (etag === null) return undefined;
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

/** Cache folders of one repository. */
interface RepoCache {
  root: string;
  blobs: string;
  refs: string;
  snapshots: string;
  noExist: string;
  locks: string;
}

function repoCache(cacheDir: string, repo: string): RepoCache {
  const root = `${cacheDir}/${repoFolder(repo)}`;
  return {
    root,
    blobs: `${root}/blobs`,
    refs: `${root}/refs`,
    snapshots: `${root}/snapshots`,
    noExist: `${root}/.no_exist`,
    locks: `${cacheDir}/.locks/${repoFolder(repo)}`,
  };
}

const COMMIT = /^[0-9a-f]{40}$/;

/** The commit a revision points to in the cache, when known. */
async function cachedCommit(cache: RepoCache, revision: string): Promise<string | undefined> {
  if (COMMIT.test(revision)) return revision;
  try {
    const commit = (await Deno.readTextFile(`${cache.refs}/${revision}`)).trim();
    return COMMIT.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

function describe(repo: string, revision: string, path: string): string {
  return `${path} of ${repo}${revision === "main" ? "" : `@${revision}`}`;
}

async function headMetadata(
  url: string,
  token: string | undefined,
  what: string,
  endpoint: string,
): Promise<FileMetadata | { missing: string | null }> {
  let target = url;
  for (let hop = 0; hop < 5; hop++) {
    let res: Response;
    try {
      res = await fetch(target, {
        method: "HEAD",
        redirect: "manual",
        headers: {
          "Accept-Encoding": "identity",
          "User-Agent": "specdec",
          ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}),
        },
      });
    } catch (cause) {
      throw hubError(
        `Cannot reach ${endpoint} to download ${what}: ${(cause as Error).message}; check the ` +
          `network or HF_ENDPOINT, or ${OFFLINE_HINT}`,
        cause,
      );
    }
    await res.body?.cancel();
    const commit = res.headers.get("x-repo-commit");
    if (res.status >= 300 && res.status < 400 && commit === null) {
      // A renamed repository: the hub answers with a relative redirect; follow it.
      const next = res.headers.get("location");
      if (next === null) break;
      target = new URL(next, target).href;
      continue;
    }
    const errorCode = res.headers.get("x-error-code");
    if ((res.status === 401 || res.status === 404) && errorCode === "RepoNotFound") {
      throw hubError(
        `${what}: repository not found on ${endpoint} (HTTP ${res.status}); check the name, or ` +
          `set HF_TOKEN if it is private`,
      );
    }
    if (res.status === 401 || res.status === 403) {
      throw hubError(
        token === undefined
          ? `${what}: the repository is gated or private (HTTP ${res.status}); accept its terms ` +
            `on the hub and set HF_TOKEN to an access token`
          : `${what}: access refused (HTTP ${res.status}) with the token from HF_TOKEN; check ` +
            `that it is valid and that its account accepted the repository's terms`,
      );
    }
    if (res.status === 404) {
      if (errorCode === "RevisionNotFound") {
        throw hubError(`${what}: no such revision on ${endpoint} (HTTP 404)`);
      }
      return { missing: commit !== null && COMMIT.test(commit) ? commit : null };
    }
    if (!(res.ok || (res.status >= 300 && res.status < 400))) {
      throw hubError(`${what}: ${endpoint} answered HTTP ${res.status}; try again later`);
    }
    const etag = stripEtag(res.headers.get("x-linked-etag")) ?? stripEtag(res.headers.get("etag"));
    const sizeText = res.headers.get("x-linked-size") ?? res.headers.get("content-length");
    const size = sizeText === null ? NaN : Number(sizeText);
    if (commit === null || !COMMIT.test(commit) || etag === undefined || !/^[\w.-]+$/.test(etag)) {
      throw hubError(
        `${what}: ${endpoint} sent no usable X-Repo-Commit / ETag headers (is HF_ENDPOINT a ` +
          `Hugging Face-compatible hub?)`,
      );
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      throw hubError(`${what}: ${endpoint} sent no file size (X-Linked-Size / Content-Length)`);
    }
    const location = res.status >= 300 && res.status < 400
      ? new URL(res.headers.get("location") ?? target, target).href
      : target;
    return { commit, etag, size, location };
  }
  throw hubError(`${what}: too many redirects from ${endpoint}`);
}

/** Hash check of a finished transfer: sha256 for LFS etags (64 hex), git blob sha1 for 40 hex. */
async function checkHash(path: string, etag: string, size: number): Promise<string | undefined> {
  let algo: "sha256" | "sha1";
  if (/^[0-9a-f]{64}$/.test(etag)) algo = "sha256";
  else if (/^[0-9a-f]{40}$/.test(etag)) algo = "sha1";
  else return undefined; // an etag that is not a content hash: size check only
  const hash = createHash(algo);
  if (algo === "sha1") hash.update(`blob ${size}\0`);
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  const got = hash.digest("hex");
  return got === etag ? undefined : `${algo} ${got}, expected ${etag}`;
}

function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function stderrSink(): ProgressSink {
  const encoder = new TextEncoder();
  return {
    write: (text) => void Deno.stderr.writeSync(encoder.encode(text)),
    isTerminal: Deno.stderr.isTerminal(),
  };
}

/** One transfer attempt into `incomplete`, resuming from its current size. */
async function transfer(
  meta: FileMetadata,
  incomplete: string,
  token: string | undefined,
  bar: ProgressBar | undefined,
  what: string,
): Promise<void> {
  let have = 0;
  try {
    have = (await Deno.stat(incomplete)).size;
  } catch { /* a new transfer */ }
  if (have > meta.size) {
    await Deno.remove(incomplete);
    have = 0;
  }
  if (have === meta.size && meta.size > 0) return;
  const headers: Record<string, string> = {
    "Accept-Encoding": "identity",
    "User-Agent": "specdec",
  };
  // Deno drops Authorization on a redirect to another origin (the CDN), as the hub expects.
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  if (have > 0) headers.Range = `bytes=${have}-`;
  const res = await fetch(meta.location, { headers });
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw hubError(`${what}: access refused (HTTP ${res.status}); set HF_TOKEN`);
  }
  if (!(res.status === 200 || res.status === 206) || res.body === null) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  const append = res.status === 206 && have > 0;
  if (!append) have = 0;
  const file = await Deno.open(incomplete, {
    write: true,
    create: true,
    append,
    truncate: !append,
  });
  try {
    await bar?.tick(Math.floor(have / 1024));
    let ticked = Math.floor(have / 1024);
    for await (const chunk of res.body) {
      let off = 0;
      while (off < chunk.length) off += await file.write(chunk.subarray(off));
      have += chunk.length;
      const kb = Math.floor(have / 1024);
      if (kb > ticked) {
        await bar?.tick(kb - ticked);
        ticked = kb;
      }
    }
  } finally {
    file.close();
  }
  if (have < meta.size) throw new Error(`transfer ended at ${have} of ${meta.size} bytes`);
}

/**
 * Downloads `path` of hub repository `repo` into the cache (once), returning the snapshot path.
 * Online, a `HEAD` asks the hub which commit and blob the revision means now (a commit revision
 * already in the cache needs no request); when the hub cannot be reached, the cached snapshot of
 * the revision is used. Offline (`HF_HUB_OFFLINE=1`), only the cache is read.
 *
 * @param repo Repository id, `org/name`.
 * @param path File path inside the repository.
 * @param options Revision, endpoint, cache folder, token, offline, optional, progress.
 * @returns `snapshots/<commit>/<path>` in the cache, or `undefined` for a missing optional file.
 * @throws {SpecDecError} Code `IO`, naming the file and what to do: no network, 404, gated
 *   repository (401), truncated or corrupt transfer, unwritable cache.
 *
 * @example Online, a file comes from the hub into the cache, e.g.
 * `await hubDownload("HuggingFaceTB/SmolLM2-135M", "config.json")`. Offline, a file the cache
 * holds is found without the network (here a cache written by hand in the standard layout):
 * ```ts
 * import { hubDownload } from "@specdec/specdec";
 * const cacheDir = await Deno.makeTempDir();
 * const repo = `${cacheDir}/models--org--name`;
 * const commit = "0123456789abcdef0123456789abcdef01234567";
 * await Deno.mkdir(`${repo}/snapshots/${commit}`, { recursive: true });
 * await Deno.mkdir(`${repo}/refs`);
 * await Deno.writeTextFile(`${repo}/refs/main`, commit);
 * await Deno.writeTextFile(`${repo}/snapshots/${commit}/config.json`, "{}");
 * const path = await hubDownload("org/name", "config.json", { cacheDir, offline: true });
 * if (path !== `${repo}/snapshots/${commit}/config.json`) throw new Error("unexpected");
 * await Deno.remove(cacheDir, { recursive: true });
 * ```
 */
export async function hubDownload(
  repo: string,
  path: string,
  options: HubDownloadOptions = {},
): Promise<string | undefined> {
  if (!/^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/.test(repo)) {
    throw new TypeError(`repo must be "org/name", got ${JSON.stringify(repo)}`);
  }
  if (path === "" || path.startsWith("/") || path.split("/").includes("..")) {
    throw new TypeError(`path must be a relative file path, got ${JSON.stringify(path)}`);
  }
  const revision = options.revision ?? "main";
  const endpoint = (options.endpoint ?? (Deno.env.get("HF_ENDPOINT") || "https://huggingface.co"))
    .replace(/\/$/, "");
  const cacheDir = options.cacheDir ?? hubCacheDir();
  const offline = options.offline ?? hubOffline();
  const token = (options.token ?? hubToken()) || undefined;
  const cache = repoCache(cacheDir, repo);
  const what = describe(repo, revision, path);

  const fromCache = async (reason: string): Promise<string | undefined> => {
    const commit = await cachedCommit(cache, revision);
    if (commit !== undefined) {
      const file = `${cache.snapshots}/${commit}/${path}`;
      if (await exists(file)) return file;
      if (options.optional && await exists(`${cache.noExist}/${commit}/${path}`)) return undefined;
      if (options.optional && offline) return undefined;
    }
    throw hubError(`${what} is not in the cache ${cache.root} and ${reason}`);
  };

  if (offline) return await fromCache(`HF_HUB_OFFLINE is set: run once online to download it`);
  if (COMMIT.test(revision) && await exists(`${cache.snapshots}/${revision}/${path}`)) {
    return `${cache.snapshots}/${revision}/${path}`;
  }
  const url = `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${
    path.split("/").map(encodeURIComponent).join("/")
  }`;
  let meta: FileMetadata | { missing: string | null };
  try {
    meta = await headMetadata(url, token, what, endpoint);
  } catch (err) {
    // No network: the revision's cached snapshot, as huggingface_hub does.
    if (err instanceof SpecDecError && err.message.startsWith("Cannot reach ")) {
      try {
        return await fromCache("the hub cannot be reached");
      } catch {
        throw err;
      }
    }
    throw err;
  }

  const ensureDirs = async (...dirs: string[]): Promise<void> => {
    try {
      for (const d of dirs) await Deno.mkdir(d, { recursive: true });
    } catch (cause) {
      throw hubError(
        `Cannot write the Hugging Face cache ${cacheDir} (for ${what}): ` +
          `${(cause as Error).message}; set HF_HUB_CACHE or HF_HOME to a writable folder`,
        cause,
      );
    }
  };

  if ("missing" in meta) {
    if (!options.optional) {
      throw hubError(`${what}: file not found on ${endpoint} (HTTP 404)`);
    }
    if (meta.missing !== null) {
      // As huggingface_hub does: offline runs then know the file is absent, not uncached.
      const marker = `${cache.noExist}/${meta.missing}/${path}`;
      await ensureDirs(marker.replace(/\/[^/]*$/, ""));
      await Deno.writeFile(marker, new Uint8Array());
    }
    return undefined;
  }
  const { commit, etag, size } = meta;
  const snapshotFile = `${cache.snapshots}/${commit}/${path}`;
  const blob = `${cache.blobs}/${etag}`;
  await ensureDirs(cache.blobs, cache.refs, cache.locks, snapshotFile.replace(/\/[^/]*$/, ""));
  if (revision !== commit) {
    // As huggingface_hub does: refs/<revision>, nested for a revision like refs/pr/1.
    const ref = `${cache.refs}/${revision}`;
    await ensureDirs(ref.replace(/\/[^/]*$/, ""));
    await writeAtomic(ref, commit);
  }

  const blobOk = async (): Promise<boolean> => {
    try {
      return (await Deno.stat(blob)).size === size;
    } catch {
      return false;
    }
  };
  if (!(await blobOk())) {
    const release = await lock(`${cache.locks}/${etag}.lock`, 30 * 60_000);
    try {
      if (await exists(blob)) {
        // A cached blob of the wrong size is corrupt: fetch it again.
        if (!(await blobOk())) await Deno.remove(blob);
      }
      if (!(await exists(blob))) {
        const incomplete = `${blob}.incomplete`;
        const sink = options.progress === undefined ? stderrSink() : options.progress;
        const bar = sink === null || size < 1e6 ? undefined : new ProgressBar(
          `downloading ${repo}/${path} (${formatMB(size)})`,
          sink,
          { total: Math.max(1, Math.floor(size / 1024)) },
        );
        await bar?.start();
        const attempts = options.attempts ?? 3;
        let lastError: unknown;
        for (let attempt = 1; attempt <= attempts; attempt++) {
          try {
            await transfer(meta, incomplete, token, bar, what);
            lastError = undefined;
            break;
          } catch (err) {
            if (err instanceof SpecDecError) throw err;
            lastError = err;
          }
        }
        if (lastError !== undefined) {
          await bar?.done("interrupted");
          throw hubError(
            `Download of ${what} from ${endpoint} was interrupted (${
              (lastError as Error).message
            }) after ${attempts} attempts; run again to resume from ${incomplete}`,
            lastError,
          );
        }
        const gotSize = (await Deno.stat(incomplete)).size;
        const mismatch = gotSize !== size
          ? `size ${gotSize}, expected ${size}`
          : await checkHash(incomplete, etag, size);
        if (mismatch !== undefined) {
          await Deno.remove(incomplete);
          await bar?.done("failed");
          throw hubError(
            `Download of ${what} from ${endpoint} is corrupt (${mismatch}); it was deleted: ` +
              `run again, and check HF_ENDPOINT or any proxy if it repeats`,
          );
        }
        await Deno.rename(incomplete, blob);
        await bar?.done();
      }
    } finally {
      release();
    }
  }
  if (!(await exists(snapshotFile))) {
    const depth = path.split("/").length + 1;
    const target = `${"../".repeat(depth)}blobs/${etag}`;
    const tmpLink = `${snapshotFile}.${Deno.pid}.link`;
    try {
      await Deno.remove(tmpLink);
    } catch { /* none */ }
    await Deno.symlink(target, tmpLink);
    await Deno.rename(tmpLink, snapshotFile);
  }
  return snapshotFile;
}
