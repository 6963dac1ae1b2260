// Guards the prepared-model cache's format number: the cache reuses converted graphs and weights
// across runs and package versions, keyed by PREPARED_FORMAT. If what the graph builders emit
// changes (graph structure, weight layout, quantization defaults) while PREPARED_FORMAT stays the
// same, users would load stale entries. This test hashes what the builders emit for small random
// checkpoints and fails when the hashes change under the same format number.
//
// After an intended change: bump PREPARED_FORMAT in lib/model/prepared_cache.ts, then run
//   deno run -A tests/model/prepared_format_test.ts --update

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readModelConfig } from "../../lib/model/config.ts";
import { SafeTensors } from "../../lib/model/safetensors.ts";
import { buildLlamaGraph } from "../../lib/model/graph/llama.ts";
import { buildGpt2Graph } from "../../lib/model/graph/gpt2.ts";
import { PREPARED_FORMAT } from "../../lib/model/prepared_cache.ts";
import type { WeightPrecision } from "../../lib/model/graph/quantize_blockwise.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURE = `${ROOT}tests/fixtures/prepared_format.json`;
const CASES = ["llama", "gpt2", "qwen2"] as const;
const PRECISIONS: WeightPrecision[] = ["f32", "q8", "q4"];

async function emitted(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of CASES) {
    const dir = `${ROOT}tests/fixtures/random/${name}`;
    const config = await readModelConfig(dir);
    using st = await SafeTensors.openFile(`${dir}/model.safetensors`);
    const build = config.family === "gpt2" ? buildGpt2Graph : buildLlamaGraph;
    for (const weights of PRECISIONS) {
      const h = createHash("sha256");
      const sink = {
        write: (tensor: string, bytes: Uint8Array) => {
          h.update(tensor).update(bytes);
          return { location: "weights.bin", offset: 0 };
        },
      };
      const g = build(config, st, { maxLength: 16, weights, sink });
      h.update(g.model);
      out[`${name}/${weights}`] = h.digest("hex").slice(0, 16);
    }
  }
  return out;
}

if (import.meta.main && Deno.args.includes("--update")) {
  const hashes = await emitted();
  await Deno.writeTextFile(
    FIXTURE,
    JSON.stringify({ format: PREPARED_FORMAT, hashes }, null, 2) + "\n",
  );
  console.log(`wrote ${FIXTURE} for format ${PREPARED_FORMAT}`);
} else {
  Deno.test("prepared-model cache: emitted graphs and weights change only with PREPARED_FORMAT", async () => {
    const fixture = JSON.parse(await Deno.readTextFile(FIXTURE)) as {
      format: number;
      hashes: Record<string, string>;
    };
    const now = await emitted();
    if (fixture.format !== PREPARED_FORMAT) {
      throw new Error(
        `PREPARED_FORMAT is ${PREPARED_FORMAT}, the fixture records ${fixture.format}: run ` +
          "`deno run -A tests/model/prepared_format_test.ts --update`",
      );
    }
    assert.deepEqual(
      now,
      fixture.hashes,
      "the graph builders emit other bytes under the same PREPARED_FORMAT: bump it in " +
        "lib/model/prepared_cache.ts and run `deno run -A tests/model/prepared_format_test.ts --update`",
    );
  });
}
