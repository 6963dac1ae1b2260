/**
 * Opens a checkpoint's weights: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json`.
 *
 * @module
 */

import { SafeTensors } from "./safetensors.ts";
import type { WeightSource } from "./graph/decoder_graph.ts";
import { SpecDecError, StatusCode } from "../runtime/errors.ts";

/** Weights spread over one or more safetensors files. */
export async function openWeights(dir: string): Promise<WeightSource> {
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
  if (!index) return await SafeTensors.open(single);
  const map = index.weight_map ?? {};
  const files = new Map<string, SafeTensors>();
  for (const f of new Set(Object.values(map))) {
    if (f.includes("/") || f.includes("\\")) {
      throw new SpecDecError(
        `Shard name ${JSON.stringify(f)} in ${indexPath} leaves ${dir}`,
        StatusCode.IO,
      );
    }
    files.set(f, await SafeTensors.open(`${dir}/${f}`));
  }
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
  };
}
