// Starts an OpenAIServer over real checkpoints on 127.0.0.1 (a free port) for the server tests.

import { fileURLToPath } from "node:url";
import { type LoadRequest, onnxBackend } from "../../lib/cli/models.ts";
import { OpenAIServer, type OpenAIServerOptions } from "../../lib/server/openai_server.ts";

/** Repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

/** A running server and how to stop it. */
export interface RunningServer {
  /** The server. */
  server: OpenAIServer;
  /** `http://127.0.0.1:PORT`. */
  base: string;
  /** Shuts the server down and closes the models. */
  stop(): Promise<void>;
}

/** Loads `request`'s models and serves them on a free port. */
export async function startServer(
  request: LoadRequest,
  options: OpenAIServerOptions,
): Promise<RunningServer> {
  const models = await onnxBackend().load(
    { threads: 1, draftThreads: 1, ...request },
    (_label, work) => work(),
  );
  const server = new OpenAIServer(models, options);
  const { addr, finished } = server.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    server,
    base: `http://127.0.0.1:${addr.port}`,
    async stop(): Promise<void> {
      await server.shutdown();
      await finished;
      models.close();
    },
  };
}

/** POSTs a JSON (or raw string) body and returns status, headers and the parsed JSON. */
export async function post(
  base: string,
  path: string,
  body: unknown,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const r = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, json: await r.json() };
}
