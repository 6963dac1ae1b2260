/**
 * Worker side of the prepared-model cache: converts a checkpoint into the cache off the main
 * thread, so the conversion's transient buffers are gone (with the worker) before ONNX
 * Runtime loads the result, and a load's peak memory is the larger of the two, not their sum.
 *
 * Message in: {@linkcode PrepareJob}; message out: {@linkcode PrepareReply}.
 *
 * @module
 */

import { readModelConfig } from "./config.ts";
import type { BuildOptions } from "./graph/decoder_graph.ts";
import { CacheUnavailable, type PreparedGraph } from "./prepared_cache.ts";
import { prepareCheckpoint } from "./_prepare_checkpoint.ts";
import { SpecDecError } from "../runtime/errors.ts";

/** What the worker is asked to prepare. */
export interface PrepareJob {
  /** Cache root. */
  root: string;
  /** Checkpoint folder. */
  dir: string;
  /** Graph options (plain data). */
  build: Omit<BuildOptions, "sink">;
}

/** The worker's answer. */
export type PrepareReply =
  | { ok: true; prepared: PreparedGraph }
  | { ok: false; kind: "unavailable" | "specdec" | "other"; message: string; code?: number };

/** The worker's global scope, typed here: JSR refuses `/// <reference lib="deno.worker" />`. */
const worker = globalThis as unknown as {
  onmessage: ((e: MessageEvent<PrepareJob>) => void) | null;
  postMessage(reply: PrepareReply): void;
  close(): void;
};

worker.onmessage = async (e: MessageEvent<PrepareJob>) => {
  const { root, dir, build } = e.data;
  let reply: PrepareReply;
  try {
    const config = await readModelConfig(dir);
    const prepared = await prepareCheckpoint(root, dir, config, build);
    reply = { ok: true, prepared };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    reply = err instanceof CacheUnavailable
      ? { ok: false, kind: "unavailable", message }
      : err instanceof SpecDecError
      ? { ok: false, kind: "specdec", message, code: err.code }
      : { ok: false, kind: "other", message };
  }
  worker.postMessage(reply);
  worker.close();
};
