import assert from "node:assert/strict";
import { sessionOptions } from "../../lib/cli/models.ts";

Deno.test("sessionOptions() gives the draft and Medusa heads draftThreads, else threads", () => {
  assert.deepEqual(
    sessionOptions({ model: "t", draft: "d", threads: 2, draftThreads: 1, spinning: false }),
    {
      target: { threads: 2, spinning: false },
      draft: { threads: 1, spinning: false, batchInvariant: false },
      heads: { threads: 1 },
    },
  );
  assert.deepEqual(sessionOptions({ model: "t", draft: "d", threads: 3, maxLength: 256 }), {
    target: { threads: 3, maxLength: 256 },
    draft: { threads: 3, maxLength: 256, batchInvariant: false },
    heads: { threads: 3 },
  });
  // draftThreads without threads: the target keeps the runtime's default.
  assert.deepEqual(sessionOptions({ model: "t", medusa: "h", draftThreads: 1 }), {
    target: {},
    draft: { threads: 1, batchInvariant: false },
    heads: { threads: 1 },
  });
  assert.deepEqual(sessionOptions({ model: "t" }), {
    target: {},
    draft: { batchInvariant: false },
    heads: {},
  });
  // Precision: the heads follow the target, the draft has its own.
  assert.deepEqual(sessionOptions({ model: "t", weights: "q4", draftWeights: "q8" }), {
    target: { weights: "q4" },
    draft: { weights: "q8", batchInvariant: false },
    heads: { weights: "q4" },
  });
});
