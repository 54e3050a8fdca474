import { describe, expect, it } from "vitest";
import { gae, grpoAdvantages, klEstimate, ppoTokenRewards, rlooAdvantages, type TokenValues, whiten } from "./advantages.js";

const rows = (values: number[][]): TokenValues => ({
  batch: values.length,
  length: (values[0] as number[]).length,
  data: Float32Array.from(values.flat()),
});

const close = (values: ArrayLike<number>, digits = 5) => Array.from(values, (v) => expect.closeTo(v, digits));

describe("gae", () => {
  it("runs the recursion right to left over a 3-token sequence (γ = 1, λ = 0.95)", () => {
    // rewards [0, 0, 1], values [0.5, 0.6, 0.7], V after the last token = 0:
    //  t = 2: δ = 1 + 1·0 − 0.7 = 0.3;            A = 0.3
    //  t = 1: δ = 0 + 1·0.7 − 0.6 = 0.1;          A = 0.1 + 0.95·0.3 = 0.385
    //  t = 0: δ = 0 + 1·0.6 − 0.5 = 0.1;          A = 0.1 + 0.95·0.385 = 0.46575
    // returns = A + V = [0.96575, 0.985, 1.0].
    // Row 1 has one real token: A = 0.5 − 0.2 = 0.3, return 0.5; its padding (garbage) is skipped and left 0.
    const { advantages, returns } = gae({
      rewards: rows([
        [0, 0, 1],
        [0.5, 9, 9],
      ]),
      values: rows([
        [0.5, 0.6, 0.7],
        [0.2, 5, 5],
      ]),
      mask: Uint8Array.from([1, 1, 1, 1, 0, 0]),
    });
    expect(advantages).toMatchObject({ batch: 2, length: 3 });
    expect(Array.from(advantages.data)).toEqual(close([0.46575, 0.385, 0.3, 0.3, 0, 0]));
    expect(Array.from(returns.data)).toEqual(close([0.96575, 0.985, 1.0, 0.5, 0, 0]));
  });

  it("discounts with γ", () => {
    // γ = 0.9, λ = 0.95 (γλ = 0.855), same row:
    //  t = 2: δ = 1 − 0.7 = 0.3;                 A = 0.3
    //  t = 1: δ = 0.9·0.7 − 0.6 = 0.03;          A = 0.03 + 0.855·0.3 = 0.2865
    //  t = 0: δ = 0.9·0.6 − 0.5 = 0.04;          A = 0.04 + 0.855·0.2865 = 0.2849575
    const { advantages } = gae({
      rewards: rows([[0, 0, 1]]),
      values: rows([[0.5, 0.6, 0.7]]),
      mask: Float32Array.from([1, 1, 1]),
      gamma: 0.9,
      lam: 0.95,
    });
    expect(Array.from(advantages.data)).toEqual(close([0.2849575, 0.2865, 0.3]));
  });

  it("checks the layout", () => {
    expect(() => gae({ rewards: rows([[0, 0, 1]]), values: rows([[0, 0]]), mask: [1, 1, 1] })).toThrow(/values is \[1, 2\]/);
    expect(() => gae({ rewards: rows([[0, 0, 1]]), values: rows([[0, 0, 0]]), mask: [1, 1] })).toThrow(/mask has 2 entries/);
  });
});

describe("whiten", () => {
  it("uses the mean and the unbiased variance of the real entries (TRL masked_whiten)", () => {
    // Real entries [1, 2, 3]: mean 2, unbiased variance ((−1)² + 0² + 1²) / (3 − 1) = 1, so the std is
    // √(1 + 1e-8) ≈ 1 and the result is [−1, 0, 1] (a biased variance, 2/3, would give ±1.2247449).
    // The masked entry (100) takes no part and comes out 0.
    const out = whiten(Float32Array.from([1, 2, 3, 100]), [1, 1, 1, 0]);
    expect(Array.from(out)).toEqual(close([-1, 0, 1, 0], 6));
    // shiftMean = false adds the mean back: [1, 2, 3].
    expect(Array.from(whiten(Float32Array.from([1, 2, 3, 100]), [1, 1, 1, 0], false))).toEqual(close([1, 2, 3, 0], 6));
  });

  it("scales by 1/std: [0, 4] has mean 2 and unbiased variance 8", () => {
    // (0 − 2)/√8 = −0.7071068, (4 − 2)/√8 = 0.7071068.
    expect(Array.from(whiten(Float32Array.from([0, 4]), [1, 1]))).toEqual(close([-Math.SQRT1_2, Math.SQRT1_2], 6));
  });

  it("refuses fewer than two real entries", () => {
    expect(() => whiten(Float32Array.from([1, 2]), [1, 0])).toThrow(/at least 2 real entries/);
  });
});

describe("ppoTokenRewards", () => {
  const logprobs = rows([
    [-1, -2, -1],
    [-0.5, -1, 7],
  ]);
  const refLogprobs = rows([
    [-1.5, -2, -0.8],
    [-1, -1, -30],
  ]);
  const mask = Uint8Array.from([1, 1, 1, 1, 1, 0]);

  it("gives −klCoef·KL per token and adds the score at the last real token (k1)", () => {
    // k1 = logp − ref: row 0 [0.5, 0, −0.2], row 1 [0.5, 0, (padding)].
    // klCoef 0.1 → rewards row 0 [−0.05, 0, 0.02 + score 2 = 2.02]; row 1 [−0.05, 0 + score −1 = −1, 0].
    // klSum [0.3, 0.5]; non-score reward [−0.03, −0.05].
    const out = ppoTokenRewards({ scores: [2, -1], logprobs, refLogprobs, mask, klCoef: 0.1, estimator: "k1" });
    expect(Array.from(out.rewards.data)).toEqual(close([-0.05, 0, 2.02, -0.05, -1, 0]));
    expect(Array.from(out.kl.data)).toEqual(close([0.5, 0, -0.2, 0.5, 0, 0]));
    expect(Array.from(out.klSum)).toEqual(close([0.3, 0.5]));
    expect(Array.from(out.nonScoreReward)).toEqual(close([-0.03, -0.05]));
  });

  it("uses k3 when asked", () => {
    // ref − logp row 0 = [−0.5, 0, 0.2]: k3 = [e^−0.5 + 0.5 − 1, 0, e^0.2 − 0.2 − 1] = [0.1065307, 0, 0.0214028], sum 0.1279334.
    const out = ppoTokenRewards({ scores: [0, 0], logprobs, refLogprobs, mask, klCoef: 1, estimator: "k3" });
    expect(Array.from(out.kl.data.slice(0, 3))).toEqual(close([0.1065307, 0, 0.0214028]));
    expect(out.klSum[0]).toBeCloseTo(0.1279334, 5);
    expect(out.rewards.data[2]).toBeCloseTo(-0.0214028, 5);
  });

  it("needs a real token in every sequence", () => {
    expect(() =>
      ppoTokenRewards({ scores: [1], logprobs: rows([[0, 0]]), refLogprobs: rows([[0, 0]]), mask: [0, 0], klCoef: 0.1 }),
    ).toThrow(/sequence 0 has no real response token/);
  });
});

describe("klEstimate", () => {
  it("matches the device estimators: k1 = logp − ref, k3 = e^r − r − 1 with r = ref − logp", () => {
    expect(klEstimate(-1, -1.5, "k1")).toBeCloseTo(0.5, 12);
    expect(klEstimate(-0.5, -0.2, "k3")).toBeCloseTo(0.0498588, 6); // e^0.3 − 0.3 − 1
    expect(klEstimate(-3, -3, "k3")).toBe(0);
    expect(klEstimate(-3, -3 + 1e-7, "k3")).toBeGreaterThan(0); // ≈ r²/2 = 5e-15, not lost to rounding
  });
});

describe("grpoAdvantages", () => {
  it("normalizes by the group mean and the unbiased group std plus 1e-4 (TRL)", () => {
    // Group [1, 0, 0, 1]: mean 0.5, unbiased std √((4·0.25)/3) = √(1/3) = 0.5773503;
    // A = ±0.5 / (0.5773503 + 1e-4) = ±0.8658754 (a biased std, 0.5, would give ±0.9998).
    // Group [3, 1, 2, 2]: mean 2, deviations [1, −1, 0, 0], std √(2/3) = 0.8164966; A = ±1 / 0.8165966 = ±1.2245949.
    const out = grpoAdvantages([1, 0, 0, 1, 3, 1, 2, 2], 4);
    expect(out).toEqual(close([0.8658754, -0.8658754, -0.8658754, 0.8658754, 1.2245949, -1.2245949, 0, 0]));
  });

  it("only centers when scaleRewards is false, and gives 0 for a group of equal rewards", () => {
    expect(grpoAdvantages([1, 0, 0, 1], 4, { scaleRewards: false })).toEqual(close([0.5, -0.5, -0.5, 0.5]));
    expect(grpoAdvantages([0.7, 0.7, 0.7, 0.7], 4)).toEqual([0, 0, 0, 0]);
  });

  it("refuses rewards that do not split into groups", () => {
    expect(() => grpoAdvantages([1, 2, 3], 2)).toThrow(/do not split into groups of 2/);
    expect(() => grpoAdvantages([1, 2], 1)).toThrow(/groupSize must be an integer ≥ 2/);
  });
});

describe("rlooAdvantages", () => {
  it("subtracts the mean of the other G − 1 rewards", () => {
    // Group [1, 0, 0, 1] (sum 2): 1 − (2 − 1)/3 = 0.6666667; 0 − (2 − 0)/3 = −0.6666667.
    // Group [3, 1, 2, 2] (sum 8): 3 − 5/3 = 1.3333333; 1 − 7/3 = −1.3333333; 2 − 6/3 = 0.
    const out = rlooAdvantages([1, 0, 0, 1, 3, 1, 2, 2], 4);
    expect(out).toEqual(close([0.6666667, -0.6666667, -0.6666667, 0.6666667, 1.3333333, -1.3333333, 0, 0]));
  });
});
