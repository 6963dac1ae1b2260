/**
 * `openGraph`: a session over a graph built in memory, its weights handed to ONNX Runtime from
 * memory as the external-data files the graph names.
 *
 * @module
 */

import { defaultEnvironment } from "../runtime/_default_environment.ts";
import { Session, type SessionOptions } from "../runtime/session.ts";
import type { ExternalTensor } from "./onnx/graph_builder.ts";

/** A graph built in memory: `ModelProto` bytes and the weights it keeps outside them. */
export interface BuiltGraph {
  /** `ModelProto` bytes. */
  model: Uint8Array;
  /** Weights by initializer name, each with the external-data file name the model uses. */
  externals: ReadonlyMap<string, ExternalTensor>;
}

/**
 * Opens a session over a built graph in the default environment.
 *
 * @param graph The model bytes and their external weights.
 * @param options Threads and custom ops (`externalData` is filled from `graph.externals`).
 * @returns The open session.
 */
export function openGraph(
  graph: BuiltGraph,
  options: Omit<SessionOptions, "externalData">,
): Promise<Session> {
  const externalData = new Map<string, Uint8Array>();
  for (const t of graph.externals.values()) {
    externalData.set(
      t.location,
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    );
  }
  return Session.fromBytes(defaultEnvironment(), graph.model, {
    ...options,
    ...(externalData.size > 0 ? { externalData } : {}),
  });
}
