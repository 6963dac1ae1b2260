/**
 * Opens the ONNX Runtime session of a decoder checkpoint: from the prepared-model cache when
 * it can (built into it on a miss), else from a graph built in memory.
 *
 * @module
 */

import type { ModelConfig } from "./config.ts";
import { openWeights } from "./_weights.ts";
import { buildLlamaGraph } from "./graph/llama.ts";
import { buildGpt2Graph } from "./graph/gpt2.ts";
import type { BuildOptions, DecoderGraph } from "./graph/decoder_graph.ts";
import { type OpenOptions, openSession, openSessionFromFile, type OrtSession } from "./_ort.ts";
import {
  cacheRoot,
  type CacheStatus,
  CacheUnavailable,
  preparedGraph,
  type PreparedShapes,
} from "./prepared_cache.ts";

/** An open decoder session with its shapes and where its graph came from. */
export interface DecoderSession {
  /** The session. */
  session: OrtSession;
  /** Its graph's shapes. */
  shapes: PreparedShapes;
  /** Cache outcome. */
  cache: CacheStatus;
}

const warned = new Set<string>();

function shapesOf(g: DecoderGraph): PreparedShapes {
  const { numLayers, kvHeads, headDim, maxLength, vocabSize, hiddenSize } = g;
  return { numLayers, kvHeads, headDim, maxLength, vocabSize, hiddenSize };
}

/**
 * Builds or finds the graph and opens its session.
 *
 * @param dir Checkpoint folder.
 * @param config Its config.
 * @param build Graph options.
 * @param open Session options (weights are supplied here).
 * @param cache `false`: no cache; a string: the cache root; default {@linkcode cacheRoot}.
 * @returns The session, shapes and cache outcome.
 */
export async function openDecoderSession(
  dir: string,
  config: ModelConfig,
  build: BuildOptions,
  open: Omit<OpenOptions, "externals">,
  cache: boolean | string | undefined,
): Promise<DecoderSession> {
  const builder = config.family === "gpt2" ? buildGpt2Graph : buildLlamaGraph;
  const root = cache === false ? undefined : typeof cache === "string" ? cache : cacheRoot();
  const status: CacheStatus = root === undefined ? "off" : "unavailable";
  if (root !== undefined) {
    using weights = await openWeights(dir);
    try {
      const prepared = await preparedGraph(root, {
        dir,
        weightsKey: { weights: build.weights ?? "f32", quantization: build.quantization ?? {} },
        graphKey: {
          family: config.family,
          maxLength: build.maxLength,
          attention: build.attention ?? "gqa",
          rotary: build.rotary ?? "default",
        },
        build: (sink) => {
          const g = builder(config, weights, { ...build, sink });
          return { model: g.model, shapes: shapesOf(g) };
        },
      });
      const session = await openSessionFromFile(prepared.modelPath, open);
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
  using weights = await openWeights(dir);
  const g = builder(config, weights, build);
  const session = await openSession(g.model, { ...open, externals: g.externals });
  return { session, shapes: shapesOf(g), cache: status };
}
