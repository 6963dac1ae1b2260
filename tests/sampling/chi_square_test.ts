import assert from "node:assert/strict";
import { chiSquareTest } from "./_chi_square.ts";

Deno.test("chiSquareTest() matches known chi-square quantiles", () => {
  // P(chi2_1 > 10.828) = 0.001, P(chi2_10 > 29.588) = 0.001, P(chi2_4 > 9.488) = 0.05
  const n = 1000;
  // one degree of freedom: two cells, statistic = 2 * d^2 / 500
  const d = Math.sqrt(10.828 * 500 / 2);
  const r = chiSquareTest([500 + d, 500 - d], [0.5, 0.5]);
  assert.ok(Math.abs(r.statistic - 10.828) < 1e-9);
  assert.ok(Math.abs(r.pValue - 0.001) < 2e-5, String(r.pValue));
  const fair = chiSquareTest([n / 4, n / 4, n / 4, n / 4], [0.25, 0.25, 0.25, 0.25]);
  assert.equal(fair.pValue, 1);
});
