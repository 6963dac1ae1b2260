/**
 * `prepareCheckpoint`: converts a checkpoint into the prepared-model cache (or finds it there),
 * shared by the main thread and the cache's worker. No FFI: the worker imports it.
 *
 * @module
 */

import type { ModelConfig } from "./config.ts";
import { openWeights } from "./_weights.ts";
import { buildLlamaGraph } from "./graph/llama.ts";
import { buildGpt2Graph } from "./graph/gpt2.ts";
import type { BuildOptions, DecoderGraph } from "./graph/decoder_graph.ts";
import {
  keysOf,
  type PreparedGraph,
  preparedGraph,
  type PreparedShapes,
} from "./prepared_cache.ts";

/** The graph builder of a checkpoint's family. */
export function graphBuilder(config: ModelConfig): typeof buildLlamaGraph {
  return config.family === "gpt2" ? buildGpt2Graph : buildLlamaGraph;
}

/** The shapes of a built graph (what `CausalLM` needs of it). */
export function shapesOf(g: DecoderGraph): PreparedShapes {
  const { numLayers, kvHeads, headDim, maxLength, vocabSize, hiddenSize } = g;
  return { numLayers, kvHeads, headDim, maxLength, vocabSize, hiddenSize };
}

/**
 * Finds or makes the prepared graph of a checkpoint in the cache.
 *
 * @param root The cache root.
 * @param dir The checkpoint folder.
 * @param config Its config.
 * @param build Graph options.
 * @returns The graph's file and shapes.
 */
export async function prepareCheckpoint(
  root: string,
  dir: string,
  config: ModelConfig,
  build: BuildOptions,
): Promise<PreparedGraph> {
  const builder = graphBuilder(config);
  using weights = await openWeights(dir);
  return await preparedGraph(root, {
    dir,
    ...keysOf(config, build),
    build: (sink) => {
      const g = builder(config, weights, { ...build, sink });
      return { model: g.model, shapes: shapesOf(g) };
    },
  });
}
