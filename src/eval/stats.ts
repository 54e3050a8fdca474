/**
 * Confidence intervals and paired tests for evaluation figures:
 * - Wilson's score interval for a rate (k of n): unlike p ± 1.96·SE it stays
 *   inside [0, 1] and is not degenerate at 0/n or n/n;
 * - a seeded percentile bootstrap for differences (paired or not);
 * - McNemar's exact test for two models answering the same items.
 */

export type Interval = [number, number];

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** Wilson score interval of k successes in n trials; [0, 1] when n is 0. */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (!(n > 0)) return [0, 1];
  if (k < 0 || k > n) throw new Error(`wilson: ${k} successes out of ${n} trials`);
  const p = k / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  // At 0/n and n/n the bound is exactly 0 or 1; rounding would leave 1e-16 off.
  return [k === 0 ? 0 : Math.max(0, center - half), k === n ? 1 : Math.min(1, center + half)];
}

export type Rate = { k: number; n: number; rate: number; ci95: Interval };

/** A rate with its Wilson interval; the rate of nothing is reported as 0 with the interval [0, 1]. */
export function rate(k: number, n: number): Rate {
  return { k, n, rate: n === 0 ? 0 : k / n, ci95: wilson(k, n) };
}

/** A small seeded generator (mulberry32), so a bootstrap gives the same interval every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The q-quantile of sorted values, interpolating linearly between order statistics. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export type BootstrapOptions = { resamples?: number; seed?: number };
export type Difference = { diff: number; ci95: Interval; resamples: number; seed: number };

/**
 * Paired bootstrap of mean(b − a) over items both were measured on: items
 * are resampled with replacement, keeping each item's pair together.
 */
export function pairedBootstrap(a: number[], b: number[], options: BootstrapOptions = {}): Difference {
  if (a.length !== b.length) throw new Error(`paired bootstrap: ${a.length} and ${b.length} values`);
  return bootstrapMean(
    a.map((x, i) => (b[i] as number) - x),
    options,
  );
}

/** The mean of `values` with a percentile bootstrap interval. */
export function bootstrapMean(values: number[], options: BootstrapOptions = {}): Difference {
  const resamples = options.resamples ?? 2000;
  const seed = options.seed ?? 0;
  const n = values.length;
  if (n === 0) return { diff: 0, ci95: [Number.NaN, Number.NaN], resamples, seed };
  const random = seededRandom(seed);
  const means: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[Math.floor(random() * n)] as number;
    means.push(sum / n);
  }
  means.sort((x, y) => x - y);
  return { diff: meanOf(values), ci95: [quantile(means, 0.025), quantile(means, 0.975)], resamples, seed };
}

/** Unpaired bootstrap of mean(b) − mean(a) (two groups measured on different items). */
export function bootstrapDifference(a: number[], b: number[], options: BootstrapOptions = {}): Difference {
  const resamples = options.resamples ?? 2000;
  const seed = options.seed ?? 0;
  if (a.length === 0 || b.length === 0) return { diff: 0, ci95: [Number.NaN, Number.NaN], resamples, seed };
  const random = seededRandom(seed);
  const draw = (xs: number[]) => {
    let sum = 0;
    for (let i = 0; i < xs.length; i++) sum += xs[Math.floor(random() * xs.length)] as number;
    return sum / xs.length;
  };
  const diffs: number[] = [];
  for (let r = 0; r < resamples; r++) diffs.push(draw(b) - draw(a));
  diffs.sort((x, y) => x - y);
  return { diff: meanOf(b) - meanOf(a), ci95: [quantile(diffs, 0.025), quantile(diffs, 0.975)], resamples, seed };
}

export type McNemar = {
  /** Items A got right (1) and B wrong (0). */
  aOnly: number;
  /** Items B got right and A wrong. */
  bOnly: number;
  /** Exact two-sided p-value: the discordant pairs against Binomial(aOnly + bOnly, 1/2). */
  p: number;
};

/** McNemar's exact test on paired binary outcomes (1 = success). */
export function mcnemar(a: number[], b: number[]): McNemar {
  if (a.length !== b.length) throw new Error(`McNemar: ${a.length} and ${b.length} outcomes`);
  let aOnly = 0;
  let bOnly = 0;
  a.forEach((x, i) => {
    if (x === 1 && b[i] === 0) aOnly++;
    if (x === 0 && b[i] === 1) bOnly++;
  });
  return { aOnly, bOnly, p: binomialTwoSided(Math.min(aOnly, bOnly), aOnly + bOnly) };
}

/** 2 · P(X ≤ k) for X ~ Binomial(n, 1/2), capped at 1; sums in log space so large n does not overflow. */
function binomialTwoSided(k: number, n: number): number {
  if (n === 0) return 1;
  let logChoose = 0; // log C(n, 0)
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logChoose += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logChoose - n * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}
