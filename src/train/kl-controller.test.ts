import { describe, expect, it } from "vitest";
import { AdaptiveKLController, FixedKLController } from "./kl-controller.js";

describe("FixedKLController", () => {
  it("keeps its coefficient", () => {
    const controller = new FixedKLController(0.05);
    controller.update(100, 64);
    expect(controller.value).toBe(0.05);
    expect(() => new FixedKLController(-1)).toThrow(/coef/);
  });
});

describe("AdaptiveKLController", () => {
  it("moves the coefficient toward the target KL, the error clipped to ±0.2 (Ziegler et al., TRL ≤ 0.11)", () => {
    const controller = new AdaptiveKLController(); // init 0.2, target 6, horizon 10000
    expect(controller.value).toBe(0.2);
    // KL 12: error 12/6 − 1 = 1 → clipped 0.2; × (1 + 0.2·100/10000) = × 1.002 → 0.2004.
    controller.update(12, 100);
    expect(controller.value).toBeCloseTo(0.2004, 12);
    // KL 3: error 3/6 − 1 = −0.5 → clipped −0.2; × 0.998 → 0.2004·0.998 = 0.1999992.
    controller.update(3, 100);
    expect(controller.value).toBeCloseTo(0.1999992, 12);
    // KL 6.6: error 0.1 (inside the clip); × (1 + 0.1·1000/10000) = × 1.01 → 0.201999192.
    controller.update(6.6, 1000);
    expect(controller.value).toBeCloseTo(0.201999192, 12);
    // KL on target: no change.
    controller.update(6, 500);
    expect(controller.value).toBeCloseTo(0.201999192, 12);
  });

  it("takes its own settings and refuses a non-finite KL", () => {
    const controller = new AdaptiveKLController({ initKlCoef: 0.1, target: 2, horizon: 100 });
    // KL 1: error 1/2 − 1 = −0.5 → −0.2; × (1 − 0.2·10/100) = × 0.98 → 0.098.
    controller.update(1, 10);
    expect(controller.value).toBeCloseTo(0.098, 12);
    expect(() => controller.update(Number.NaN, 10)).toThrow(/measured KL is NaN/);
    expect(() => new AdaptiveKLController({ target: 0 })).toThrow(/target must be > 0/);
  });
});
