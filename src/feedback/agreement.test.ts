import { describe, expect, it } from "vitest";
import { cohensKappa, krippendorffAlpha } from "./agreement.js";

const repeat = <T>(value: T, n: number): T[] => Array.from({ length: n }, () => value);

describe("Cohen's kappa", () => {
  it("matches the worked example in Wikipedia's 'Cohen's kappa' article (50 grant proposals: p_o 0.7, p_e 0.5, kappa 0.4)", () => {
    // Both yes 20, both no 15, A yes / B no 5, A no / B yes 10.
    const a = [...repeat("yes", 20), ...repeat("no", 15), ...repeat("yes", 5), ...repeat("no", 10)];
    const b = [...repeat("yes", 20), ...repeat("no", 15), ...repeat("no", 5), ...repeat("yes", 10)];
    const k = cohensKappa(a, b);
    expect(k.n).toBe(50);
    expect(k.observed).toBeCloseTo(0.7, 12);
    expect(k.expected).toBeCloseTo(0.5, 12); // 0.5·0.6 + 0.5·0.4
    expect(k.kappa).toBeCloseTo(0.4, 12);
  });

  it("counts only units both annotators judged, and is 1 for perfect and -1 for systematic disagreement", () => {
    expect(cohensKappa([0, 1, 0, null, 1], [0, 1, 0, 1, null])).toMatchObject({ kappa: 1, n: 3 });
    expect(cohensKappa([0, 1], [1, 0]).kappa).toBeCloseTo(-1, 12);
    // Hand-computed: pairs (0,0) (0,1) (1,1) (1,1): p_o = 3/4, p_e = (2/4)(1/4) + (2/4)(3/4) = 1/2, kappa = 0.5.
    expect(cohensKappa([0, 0, 1, 1], [0, 1, 1, 1]).kappa).toBeCloseTo(0.5, 12);
  });

  it("is undefined (null) with nothing shared or when both always say the same single thing", () => {
    expect(cohensKappa([0, null], [null, 1]).kappa).toBeNull();
    expect(cohensKappa([1, 1, 1], [1, 1, 1]).kappa).toBeNull();
    expect(() => cohensKappa([1], [1, 2])).toThrow(/1 vs 2 units/);
  });
});

describe("Krippendorff's alpha (nominal)", () => {
  it("reproduces Krippendorff's own example: 4 observers, 12 units, missing values, alpha = 0.743", () => {
    // K. Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C (nominal data, any number of
    // observers, missing data); the paper reports alpha = 0.743 for these values, with n = 40 pairable values.
    const _ = null;
    const A = [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _];
    const B = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3];
    const C = [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _];
    const D = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _];
    const units = A.map((_, u) => [A[u], B[u], C[u], D[u]]);
    const { alpha, n } = krippendorffAlpha(units);
    expect(n).toBe(40);
    expect(alpha).toBeCloseTo(0.743, 3);
    // By hand: n_c = 9, 13, 10, 5, 3 (values 1..5); disagreeing coincidences: units 2 and 8 give 6 ordered pairs
    // each, unit 6 gives 12, all weighted 1/(4 − 1), so 8 in all; alpha = 1 − 39·8 / (40² − Σ n_c²).
    expect(alpha).toBeCloseTo(1 - (39 * 8) / (1600 - (81 + 169 + 100 + 25 + 9)), 12);
  });

  it("reproduces the same paper's binary two-observer example: alpha = 0.095", () => {
    // Krippendorff (2011), section A: 10 units, observers A and B, no missing data.
    const A = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0];
    const B = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0];
    const { alpha } = krippendorffAlpha(A.map((a, u) => [a, B[u]]));
    expect(alpha).toBeCloseTo(0.095, 3);
    expect(alpha).toBeCloseTo(1 - (19 * 8) / (400 - 14 * 14 - 6 * 6), 12);
  });

  it("is 1 for perfect agreement, skips units with fewer than two values, and is undefined with a single category", () => {
    expect(
      krippendorffAlpha([
        [0, 0, null],
        [1, 1, 1],
        [null, 0, null],
      ]).alpha,
    ).toBe(1);
    expect(
      krippendorffAlpha([
        [0, 0],
        [0, 0],
      ]).alpha,
    ).toBeNull();
    expect(krippendorffAlpha([[0], [null, 1]])).toEqual({ alpha: null, n: 0 });
  });
});
