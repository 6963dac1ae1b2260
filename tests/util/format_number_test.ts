import assert from "node:assert/strict";
import { formatNumber } from "../../mod.ts";

Deno.test("formatNumber writes rates, ratios, percentages, ms and MB", () => {
  assert.equal(formatNumber.tokensPerSecond(290.14), "290.1");
  assert.equal(formatNumber.ratio(1.4512), "1.45x");
  assert.equal(formatNumber.ratio(2, 1), "2.0x");
  assert.equal(formatNumber.percent(0.356), "35.6%");
  assert.equal(formatNumber.percent(1, 0), "100%");
  assert.equal(formatNumber.change(0.25), "+25.0%");
  assert.equal(formatNumber.change(0), "+0.0%");
  assert.equal(formatNumber.change(-0.053), "-5.3%");
  assert.equal(formatNumber.ms(1.834), "1.83");
  assert.equal(formatNumber.seconds(1234), "1.23");
  assert.equal(formatNumber.megabytes(539_754_496), "539.8");
  assert.equal(formatNumber.fixed(0.11349, 3), "0.113");
});

Deno.test("formatNumber writes - for missing and non-finite figures", () => {
  for (const f of Object.values(formatNumber) as ((v: number | undefined) => string)[]) {
    assert.equal(f(undefined), "-");
    assert.equal(f(Number.NaN), "-");
    assert.equal(f(Number.POSITIVE_INFINITY), "-");
  }
});
