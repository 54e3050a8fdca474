/** Intervals and tests against values worked out by hand (the arithmetic is in the comments). */
import { describe, expect, it } from "vitest";
import { bootstrapDifference, bootstrapMean, mcnemar, pairedBootstrap, quantile, rate, wilson } from "./stats.js";

describe("Wilson interval", () => {
  it("5 of 10: centre (0.5 + z²/20)/(1 + z²/10) = 0.5, half-width 1.96·√(0.025 + 0.0096)/1.3842 = 0.2634", () => {
    const [lo, hi] = wilson(5, 10);
    expect(lo).toBeCloseTo(0.2366, 4);
    expect(hi).toBeCloseTo(0.7634, 4);
  });
  it("0 of 10: [0, 2·(z²/20)/(1 + z²/10)] = [0, 0.2775]; 10 of 10 is its mirror image", () => {
    expect(wilson(0, 10)[0]).toBe(0);
    expect(wilson(0, 10)[1]).toBeCloseTo(0.2775, 4);
    expect(wilson(10, 10)[0]).toBeCloseTo(0.7225, 4);
    expect(wilson(10, 10)[1]).toBe(1);
  });
  it("1 of 4: centre 0.7302/1.9604 = 0.3725, half-width 1.96·√0.1069/1.9604 = 0.3269", () => {
    const [lo, hi] = wilson(1, 4);
    expect(lo).toBeCloseTo(0.0456, 4);
    expect(hi).toBeCloseTo(0.6994, 4);
  });
  it("no trials: the whole of [0, 1]; impossible counts are refused", () => {
    expect(wilson(0, 0)).toEqual([0, 1]);
    expect(rate(0, 0)).toEqual({ k: 0, n: 0, rate: 0, ci95: [0, 1] });
    expect(() => wilson(3, 2)).toThrow(/3 successes out of 2/);
  });
});

describe("McNemar's exact test", () => {
  it("1 vs 5 discordant pairs: 2·(C(6,0) + C(6,1))/2⁶ = 14/64", () => {
    const a = [1, 0, 0, 0, 0, 0, 1, 0];
    const b = [0, 1, 1, 1, 1, 1, 1, 0];
    const test = mcnemar(a, b);
    expect([test.aOnly, test.bOnly]).toEqual([1, 5]);
    expect(test.p).toBeCloseTo(14 / 64, 12);
  });
  it("0 vs 6: 2/64; no discordant pair: p = 1", () => {
    expect(mcnemar([0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]).p).toBeCloseTo(2 / 64, 12);
    expect(mcnemar([1, 0, 1], [1, 0, 1]).p).toBe(1);
  });
  it("large n stays finite: 100 vs 140 discordant pairs is significant, 100 vs 110 is not", () => {
    const pairs = (x: number, y: number) => ({
      a: [...Array(x).fill(1), ...Array(y).fill(0)],
      b: [...Array(x).fill(0), ...Array(y).fill(1)],
    });
    const big = pairs(100, 140);
    const p = mcnemar(big.a, big.b).p;
    expect(p).toBeGreaterThan(0.005);
    expect(p).toBeLessThan(0.02);
    const close = pairs(100, 110);
    expect(mcnemar(close.a, close.b).p).toBeGreaterThan(0.5);
  });
});

describe("bootstrap", () => {
  it("differences [0, 1]: resampled means are 0, ½, 1 with chances ¼, ½, ¼, so the 95% interval is [0, 1]", () => {
    const d = bootstrapMean([0, 1], { resamples: 4000, seed: 3 });
    expect(d.diff).toBe(0.5);
    expect(d.ci95).toEqual([0, 1]);
  });
  it("a constant difference has a zero-width interval; the same seed gives the same interval, another seed another", () => {
    expect(pairedBootstrap([0, 0, 1], [1, 1, 2]).ci95).toEqual([1, 1]);
    const a = [0, 1, 0, 1, 1, 0, 0, 1, 0, 0];
    const b = [1, 1, 0, 1, 1, 1, 0, 1, 1, 0];
    const first = pairedBootstrap(a, b, { seed: 7 });
    expect(pairedBootstrap(a, b, { seed: 7 })).toEqual(first);
    const x = [0.13, 0.71, 0.42, 0.05, 0.96, 0.33];
    const y = [0.52, 0.18, 0.77, 0.61, 0.29, 0.88];
    expect(pairedBootstrap(x, y, { seed: 8 }).ci95).not.toEqual(pairedBootstrap(x, y, { seed: 7 }).ci95);
    // mean(b − a) = 3/10; the interval holds it and stays within the possible range [−1, 1].
    expect(first.diff).toBeCloseTo(0.3, 12);
    expect(first.ci95[0]).toBeLessThanOrEqual(0.3);
    expect(first.ci95[1]).toBeGreaterThanOrEqual(0.3);
    expect(first.ci95[0]).toBeGreaterThanOrEqual(0);
  });
  it("unpaired: groups [0, 0] and [1, 1] differ by exactly 1 in every resample", () => {
    expect(bootstrapDifference([0, 0], [1, 1]).ci95).toEqual([1, 1]);
  });
  it("quantiles interpolate between order statistics", () => {
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
  });
});
