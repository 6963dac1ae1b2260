import assert from "node:assert/strict";
import { sessionOptions } from "../../lib/cli/models.ts";
import { MEASURED_DEFAULTS } from "../../lib/cli/measured_defaults.ts";
import type { WeightPrecision } from "../../lib/model/graph/quantize_blockwise.ts";

// The drafters' precision at an f32 target without --draft-weights: the measured table's.
const T = MEASURED_DEFAULTS.f32;
const dw = (p: WeightPrecision | undefined) => (p !== undefined ? { weights: p } : {});
// A q8/q4 draft model and EAGLE head run with int8 activations (their numerics never change the
// output).
const ddw = (p: WeightPrecision | undefined) =>
  p === undefined
    ? {}
    : p === "f32"
    ? { weights: p }
    : { weights: p, activations: "int8" as const };

Deno.test("sessionOptions() gives the draft and Medusa heads draftThreads, else threads", () => {
  assert.deepEqual(
    sessionOptions({ model: "t", draft: "d", threads: 2, draftThreads: 1, spinning: false }),
    {
      target: { threads: 2, spinning: false },
      draft: { threads: 1, spinning: false, batchInvariant: false, ...ddw(T.speculative.drafter) },
      heads: { threads: 1, ...dw(T.medusa.drafter) },
      eagle: { threads: 1, ...ddw(T.eagle.drafter) },
    },
  );
  assert.deepEqual(sessionOptions({ model: "t", draft: "d", threads: 3, maxLength: 256 }), {
    target: { threads: 3, maxLength: 256 },
    draft: { threads: 3, maxLength: 256, batchInvariant: false, ...ddw(T.speculative.drafter) },
    heads: { threads: 3, ...dw(T.medusa.drafter) },
    eagle: { threads: 3, ...ddw(T.eagle.drafter) },
  });
  // draftThreads without threads: the target keeps the runtime's default.
  assert.deepEqual(sessionOptions({ model: "t", medusa: "h", draftThreads: 1 }), {
    target: {},
    draft: { threads: 1, batchInvariant: false, ...ddw(T.speculative.drafter) },
    heads: { threads: 1, ...dw(T.medusa.drafter) },
    eagle: { threads: 1, ...ddw(T.eagle.drafter) },
  });
  assert.deepEqual(sessionOptions({ model: "t" }), {
    target: {},
    draft: { batchInvariant: false, ...ddw(T.speculative.drafter) },
    heads: { ...dw(T.medusa.drafter) },
    eagle: { ...ddw(T.eagle.drafter) },
  });
  // Precision: --draft-weights sets every drafter's (draft, Medusa heads, EAGLE head).
  assert.deepEqual(sessionOptions({ model: "t", weights: "q4", draftWeights: "q8" }), {
    target: { weights: "q4" },
    draft: { weights: "q8", activations: "int8", batchInvariant: false },
    heads: { weights: "q8" },
    eagle: { weights: "q8", activations: "int8" },
  });
  // draftActivations "f32" keeps a quantized draft's activations f32; an f32 draft has none.
  const f32Act = sessionOptions({ model: "t", draftWeights: "q4", draftActivations: "f32" });
  assert.deepEqual([f32Act.draft.activations, f32Act.eagle.activations], ["f32", "f32"]);
  assert.equal(
    sessionOptions({ model: "t", draftWeights: "f32", draftActivations: "int8" }).draft.activations,
    undefined,
  );
});

Deno.test("sessionOptions() gives each drafter its measured precision unless --draft-weights is set", () => {
  for (const weights of ["f32", "q8", "q4"] as const) {
    const row = MEASURED_DEFAULTS[weights];
    const o = sessionOptions({ model: "t", weights });
    assert.equal(o.target.weights, weights);
    assert.equal(o.draft.weights, row.speculative.drafter ?? weights);
    assert.equal(o.heads.weights, row.medusa.drafter ?? weights);
    assert.equal(o.eagle.weights, row.eagle.drafter ?? weights);
    const set = sessionOptions({ model: "t", weights, draftWeights: "q4" });
    assert.deepEqual([set.draft.weights, set.heads.weights, set.eagle.weights], ["q4", "q4", "q4"]);
  }
});
