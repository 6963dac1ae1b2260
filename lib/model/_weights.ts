/**
 * Opens a checkpoint's weights: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json`.
 *
 * @module
 */

import { SafeTensors } from "./safetensors.ts";
import type { WeightSource } from "./graph/decoder_graph.ts";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";

/** A {@linkcode WeightSource} over open files, to close after the build. */
export interface OpenWeights extends WeightSource, Disposable {
  /** Closes every file. */
  close(): void;
}

/**
 * Weights spread over one or more safetensors files, read one tensor at a time (only the
 * headers are read here).
 */
export async function openWeights(dir: string): Promise<OpenWeights> {
  const single = `${dir}/model.safetensors`;
  const indexPath = `${dir}/model.safetensors.index.json`;
  let index: { weight_map?: Record<string, string> } | undefined;
  try {
    index = JSON.parse(await Deno.readTextFile(indexPath));
  } catch (cause) {
    if (!(cause instanceof Deno.errors.NotFound)) {
      throw new SpecDecError(`Malformed ${indexPath}: ${(cause as Error).message}`, StatusCode.IO, {
        cause,
      });
    }
  }
  if (!index) return await SafeTensors.openFile(single);
  const map = index.weight_map ?? {};
  const files = new Map<string, SafeTensors>();
  for (const f of new Set(Object.values(map))) {
    if (f.includes("/") || f.includes("\\")) {
      throw new SpecDecError(
        `Shard name ${JSON.stringify(f)} in ${indexPath} leaves ${dir}`,
        StatusCode.IO,
      );
    }
    try {
      files.set(f, await SafeTensors.openFile(`${dir}/${f}`));
    } catch (e) {
      for (const open of files.values()) open.close();
      throw e;
    }
  }
  const close = (): void => {
    for (const open of files.values()) open.close();
  };
  const fileOf = (name: string): SafeTensors | undefined => {
    const f = map[name];
    return f === undefined ? undefined : files.get(f);
  };
  return {
    has: (name) => fileOf(name)?.has(name) ?? false,
    float32: (name, shape) => {
      const f = fileOf(name);
      if (!f) throw new SpecDecError(`Tensor "${name}" not listed in ${indexPath}`, StatusCode.IO);
      return f.float32(name, shape);
    },
    close,
    [Symbol.dispose]: close,
  };
}
