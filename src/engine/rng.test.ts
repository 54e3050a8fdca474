import { describe, expect, it } from "vitest";
import { Rng } from "./rng.js";
import { makeSchedule } from "./schedule.js";

describe("Rng", () => {
  it("is deterministic per seed and differs across seeds", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const draws = (r: Rng) => Array.from({ length: 5 }, () => r.nextUint32());
    const first = draws(a);
    expect(draws(b)).toEqual(first);
    expect(draws(c)).not.toEqual(first);
  });

  it("restores its full state (including a cached normal) for resume", () => {
    const rng = new Rng(7);
    rng.normal(); // leaves the second Box–Muller value cached
    const saved = rng.getState();
    const expected = [rng.normal(), rng.uniform(), rng.int(10)];
    const resumed = new Rng(0);
    resumed.setState(saved);
    expect([resumed.normal(), resumed.uniform(), resumed.int(10)]).toEqual(expected);
  });

  it("has the moments of its distributions", () => {
    const rng = new Rng(1);
    const n = 20000;
    const normals = rng.normalArray(n);
    const mean = normals.reduce((s, v) => s + v, 0) / n;
    const variance = normals.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    const counts = new Array(4).fill(0);
    for (let i = 0; i < n; i++) counts[rng.int(4)]++;
    for (const count of counts) expect(Math.abs(count / n - 0.25)).toBeLessThan(0.02);
  });

  it("shuffles to a permutation, the same one for the same seed", () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    const once = new Rng(5).shuffle([...items]);
    expect([...once].sort((x, y) => x - y)).toEqual(items);
    expect(new Rng(5).shuffle([...items])).toEqual(once);
    expect(once).not.toEqual(items);
  });
});

describe("learning-rate schedules", () => {
  it("warm up linearly, then decay linearly to zero", () => {
    const lr = makeSchedule({ type: "linear", peak: 1e-3, warmupSteps: 10, totalSteps: 110 });
    expect(lr(0)).toBe(0);
    expect(lr(5)).toBeCloseTo(5e-4, 12);
    expect(lr(10)).toBeCloseTo(1e-3, 12);
    expect(lr(60)).toBeCloseTo(5e-4, 12);
    expect(lr(110)).toBe(0);
    expect(lr(500)).toBe(0);
  });

  it("cosine decays along half a cosine to the floor", () => {
    const lr = makeSchedule({ type: "cosine", peak: 2, warmupSteps: 0, totalSteps: 100, minRatio: 0.1 });
    expect(lr(0)).toBeCloseTo(2, 12);
    expect(lr(50)).toBeCloseTo(0.2 + 1.8 * 0.5, 12);
    expect(lr(100)).toBeCloseTo(0.2, 12);
  });

  it("constant stays at the peak after warm-up; decaying shapes need totalSteps", () => {
    const lr = makeSchedule({ type: "constant", peak: 0.5, warmupSteps: 4 });
    expect([lr(0), lr(2), lr(4), lr(1000)]).toEqual([0, 0.25, 0.5, 0.5]);
    expect(() => makeSchedule({ type: "cosine", peak: 1 })).toThrow(/needs totalSteps/);
    expect(() => makeSchedule({ type: "linear", peak: -1, totalSteps: 3 })).toThrow();
  });
});
