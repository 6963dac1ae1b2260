/**
 * Opens the ONNX Runtime session of a decoder checkpoint: from the prepared-model cache when
 * it can (converted into it on a miss, in a worker), else from a graph built in memory.
 *
 * @module
 */

import type { ModelConfig } from "./config.ts";
import { openWeights } from "./_weights.ts";
import type { BuildOptions } from "./graph/decoder_graph.ts";
import { graphBuilder, prepareCheckpoint, shapesOf } from "./_prepare_checkpoint.ts";
import { openGraph } from "./_open_graph.ts";
import { defaultEnvironment } from "../runtime/_default_environment.ts";
import { Session, type SessionOptions } from "../runtime/session.ts";
import {
  cacheRoot,
  type CacheStatus,
  CacheUnavailable,
  keysOf,
  lookupPrepared,
  type PreparedGraph,
  type PreparedShapes,
} from "./prepared_cache.ts";
import type { PrepareJob, PrepareReply } from "./_prepare_worker.ts";
import { SpecDecError } from "../runtime/errors.ts";

/** An open decoder session with its shapes and where its graph came from. */
export interface DecoderSession {
  /** The session. */
  session: Session;
  /** Its graph's shapes. */
  shapes: PreparedShapes;
  /** Cache outcome. */
  cache: CacheStatus;
}

const warned = new Set<string>();

/**
 * Builds or finds the graph and opens its session.
 *
 * @param dir Checkpoint folder.
 * @param config Its config.
 * @param build Graph options.
 * @param open Session options (threads, custom ops; weights are supplied here).
 * @param cache `false`: no cache; a string: the cache root; default {@linkcode cacheRoot}.
 * @returns The session, shapes and cache outcome.
 */
export async function openDecoderSession(
  dir: string,
  config: ModelConfig,
  build: BuildOptions,
  open: Omit<SessionOptions, "externalData">,
  cache: boolean | string | undefined,
): Promise<DecoderSession> {
  const root = cache === false ? undefined : typeof cache === "string" ? cache : cacheRoot();
  if (root !== undefined) {
    try {
      const prepared = await lookupPrepared(root, { dir, ...keysOf(config, build) }) ??
        await prepareInWorker(root, dir, build) ??
        await prepareCheckpoint(root, dir, config, build);
      const session = await Session.fromFile(defaultEnvironment(), prepared.modelPath, open);
      return { session, shapes: prepared.shapes, cache: prepared.status };
    } catch (e) {
      if (!(e instanceof CacheUnavailable)) throw e;
      if (!warned.has(root)) {
        warned.add(root);
        console.warn(
          `specdec: the prepared-model cache ${root} cannot be written (${e.message}); loading without it (set SPECDEC_CACHE to a writable folder)`,
        );
      }
    }
  }
  const builder = graphBuilder(config);
  using weights = await openWeights(dir);
  const g = builder(config, weights, build);
  const session = await openGraph(g, open);
  return { session, shapes: shapesOf(g), cache: root === undefined ? "off" : "unavailable" };
}

/**
 * Prepares in a worker, so the conversion's transient buffers are gone before the session
 * loads. Undefined when no worker can run here (the caller then prepares on this thread).
 */
async function prepareInWorker(
  root: string,
  dir: string,
  build: BuildOptions,
): Promise<PreparedGraph | undefined> {
  let worker: Worker;
  try {
    worker = new Worker(new URL("./_prepare_worker.ts", import.meta.url).href, { type: "module" });
  } catch {
    return undefined;
  }
  const reply = await new Promise<PrepareReply | undefined>((resolve) => {
    worker.onmessage = (e: MessageEvent<PrepareReply>) => resolve(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      resolve(undefined);
    };
    const { sink: _sink, ...plain } = build;
    const job: PrepareJob = { root, dir, build: plain };
    worker.postMessage(job);
  });
  worker.terminate();
  if (reply === undefined) return undefined;
  if (reply.ok) return reply.prepared;
  if (reply.kind === "unavailable") throw new CacheUnavailable(reply.message);
  if (reply.kind === "specdec") throw new SpecDecError(reply.message, reply.code);
  return undefined; // anything else: prepare here, to raise it with its own type
}
