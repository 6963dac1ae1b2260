/**
 * Pearson chi-square goodness-of-fit test for the sampling tests.
 *
 * @module
 */

function logGamma(x: number): number {
  const c = [
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = 0.99999999999980993;
  const t = x + 7.5;
  for (let i = 0; i < 8; i++) a += c[i]! / (x + i + 1);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised upper incomplete gamma Q(a, x). */
function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const gln = logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a, del = sum, ap = a;
    for (let n = 0; n < 1000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - gln);
  }
  let b = x + 1 - a, c = 1e300, d = 1 / b, h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - gln) * h;
}

/** Result of {@linkcode chiSquareTest}. */
export interface ChiSquareResult {
  statistic: number;
  degreesOfFreedom: number;
  pValue: number;
}

/**
 * Tests observed counts against expected probabilities. Cells with an expected
 * count below 5 are pooled into one cell; an observation in a cell of
 * probability 0 gives p = 0.
 */
export function chiSquareTest(
  observed: ArrayLike<number>,
  probs: ArrayLike<number>,
): ChiSquareResult {
  let n = 0;
  for (let i = 0; i < observed.length; i++) n += observed[i]!;
  let stat = 0, cells = 0, poolO = 0, poolE = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = probs[i]! * n;
    const o = observed[i]!;
    if (e === 0) {
      if (o > 0) return { statistic: Infinity, degreesOfFreedom: 0, pValue: 0 };
      continue;
    }
    if (e < 5) {
      poolO += o;
      poolE += e;
      continue;
    }
    stat += (o - e) ** 2 / e;
    cells++;
  }
  if (poolE > 0) {
    stat += (poolO - poolE) ** 2 / poolE;
    cells++;
  }
  const df = Math.max(1, cells - 1);
  return { statistic: stat, degreesOfFreedom: df, pValue: gammaQ(df / 2, stat / 2) };
}
