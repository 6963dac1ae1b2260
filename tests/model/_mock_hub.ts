/**
 * A local stand-in for the Hugging Face hub's `resolve` endpoints on 127.0.0.1, answering as the
 * hub does: `HEAD`/`GET /{org}/{name}/resolve/{revision}/{path}` with `X-Repo-Commit`, `ETag` (git
 * blob sha1) and, for LFS files (`*.safetensors`), a 302 to a CDN-like `/cdn/<sha256>` with
 * `X-Linked-Etag` / `X-Linked-Size`; 404 with `X-Error-Code: EntryNotFound` for a missing file,
 * 401 `RepoNotFound` for an unknown repository, 401 `GatedRepo` for a gated one without the
 * token. The CDN honours `Range` and can cut a transfer halfway once per blob.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** One repository of the mock hub. */
export interface MockRepo {
  /** The commit every revision resolves to (40 hex). */
  commit: string;
  /** Files by path. */
  files: Record<string, Uint8Array>;
  /** Branches and tags that resolve to `commit` (default `["main"]`). */
  branches?: string[];
  /** Only this bearer token opens the repository. */
  token?: string;
  /** LFS files whose advertised sha256 is wrong (the CDN serves other bytes). */
  corrupt?: Set<string>;
}

/** A request the mock hub saw. */
export interface SeenRequest {
  /** HTTP method. */
  method: string;
  /** URL path. */
  path: string;
  /** The `Range` header, if any. */
  range: string | null;
  /** Whether an `Authorization` header came with it. */
  auth: boolean;
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const gitSha1 = (b: Uint8Array): string =>
  createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");

/** The mock hub server. */
export class MockHub implements AsyncDisposable {
  /** Its base URL, for `HF_ENDPOINT`. */
  readonly url: string;
  /** Every request, in order. */
  readonly requests: SeenRequest[] = [];
  /** Blob sha256s whose next CDN transfer is cut halfway. */
  readonly interrupt: Set<string> = new Set();
  readonly #server: Deno.HttpServer;
  readonly #repos: Record<string, MockRepo>;
  readonly #cdn = new Map<string, Uint8Array>();

  /**
   * Starts the server.
   *
   * @param repos Repositories by `org/name`.
   */
  constructor(repos: Record<string, MockRepo>) {
    this.#repos = repos;
    for (const repo of Object.values(repos)) {
      for (const [path, bytes] of Object.entries(repo.files)) {
        if (path.endsWith(".safetensors")) this.#cdn.set(sha256(bytes), bytes);
      }
    }
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => this.#handle(req),
    );
    const addr = this.#server.addr as Deno.NetAddr;
    this.url = `http://127.0.0.1:${addr.port}`;
  }

  /** The sha256 of a file's bytes (its LFS etag). */
  static sha256(bytes: Uint8Array): string {
    return sha256(bytes);
  }

  /** The git blob sha1 of a file's bytes (its plain etag). */
  static gitSha1(bytes: Uint8Array): string {
    return gitSha1(bytes);
  }

  #handle(req: Request): Response {
    const url = new URL(req.url);
    this.requests.push({
      method: req.method,
      path: url.pathname,
      range: req.headers.get("range"),
      auth: req.headers.has("authorization"),
    });
    if (url.pathname.startsWith("/cdn/")) return this.#cdnResponse(req, url.pathname.slice(5));
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m === null) return new Response("not found", { status: 404 });
    const [, repoId, revision, rawPath] = m;
    const repo = this.#repos[repoId!];
    if (repo === undefined) {
      return new Response("Repository not found", {
        status: 401,
        headers: { "X-Error-Code": "RepoNotFound" },
      });
    }
    if (repo.token !== undefined && req.headers.get("authorization") !== `Bearer ${repo.token}`) {
      return new Response("Access to this repository is restricted", {
        status: 401,
        headers: { "X-Error-Code": "GatedRepo" },
      });
    }
    const rev = decodeURIComponent(revision!);
    if (!(repo.branches ?? ["main"]).includes(rev) && rev !== repo.commit) {
      return new Response("Revision not found", {
        status: 404,
        headers: { "X-Error-Code": "RevisionNotFound" },
      });
    }
    const path = decodeURIComponent(rawPath!);
    const bytes = repo.files[path];
    if (bytes === undefined) {
      return new Response("Entry not found", {
        status: 404,
        headers: { "X-Error-Code": "EntryNotFound", "X-Repo-Commit": repo.commit },
      });
    }
    const common = { "X-Repo-Commit": repo.commit, "ETag": `"${gitSha1(bytes)}"` };
    if (path.endsWith(".safetensors")) {
      const sha = sha256(bytes);
      const advertised = repo.corrupt?.has(path) ? sha256(new Uint8Array([1, 2, 3])) : sha;
      return new Response(null, {
        status: 302,
        headers: {
          ...common,
          "Location": `${this.url}/cdn/${sha}?file=${encodeURIComponent(path)}`,
          "X-Linked-Etag": `"${advertised}"`,
          "X-Linked-Size": String(bytes.length),
        },
      });
    }
    return new Response(
      req.method === "HEAD" ? null : new Blob([bytes as Uint8Array<ArrayBuffer>]),
      {
        status: 200,
        headers: { ...common, "Content-Length": String(bytes.length) },
      },
    );
  }

  #cdnResponse(req: Request, sha: string): Response {
    const bytes = this.#cdn.get(sha);
    if (bytes === undefined) return new Response("no blob", { status: 404 });
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
    if (range !== null) start = Number(range[1]);
    const body = bytes.subarray(start);
    const status = start > 0 ? 206 : 200;
    const headers: Record<string, string> = { "Content-Length": String(body.length) };
    if (start > 0) headers["Content-Range"] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    if (this.interrupt.delete(sha)) {
      // Half the bytes, then the connection breaks.
      const half = body.subarray(0, Math.floor(body.length / 2));
      const stream = new ReadableStream<Uint8Array>({
        start(controller): void {
          controller.enqueue(half);
        },
        pull(controller): void {
          controller.close(); // short of Content-Length: the client sees a broken transfer
        },
      });
      return new Response(stream, { status, headers });
    }
    return new Response(new Blob([body as Uint8Array<ArrayBuffer>]), { status, headers });
  }

  /** Stops the server. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  /** Stops the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
