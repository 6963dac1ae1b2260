import assert from "node:assert/strict";
import { sessionOptions } from "../../lib/cli/_load_models.ts";

Deno.test("sessionOptions() gives the draft and Medusa heads draftThreads, else threads", () => {
  assert.deepEqual(
    sessionOptions({ model: "t", draft: "d", threads: 2, draftThreads: 1, spinning: false }),
    {
      target: { threads: 2, spinning: false },
      draft: { threads: 1, spinning: false },
      heads: { threads: 1 },
    },
  );
  assert.deepEqual(sessionOptions({ model: "t", draft: "d", threads: 3, maxLength: 256 }), {
    target: { threads: 3, maxLength: 256 },
    draft: { threads: 3, maxLength: 256 },
    heads: { threads: 3 },
  });
  // draftThreads without threads: the target keeps the runtime's default.
  assert.deepEqual(sessionOptions({ model: "t", medusa: "h", draftThreads: 1 }), {
    target: {},
    draft: { threads: 1 },
    heads: { threads: 1 },
  });
  assert.deepEqual(sessionOptions({ model: "t" }), { target: {}, draft: {}, heads: {} });
});
