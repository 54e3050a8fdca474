import { describe, expect, it } from "vitest";
import { WorldRandom } from "../world/random.js";
import { alignmentTax, elo, gamesFrom, overOptimization, shuffle, winRate } from "./metrics.js";
import { seededRandom } from "./stats.js";

describe("the alignment tax", () => {
  it("the alignment tax is helpfulness lost per unit of harm removed", () => {
    const base = { n: 1, violationRate: 0.8, helpfulness: 0.9, evasiveness: 0, goldScore: 0, violationsByPrinciple: {} as never };
    expect(alignmentTax(base, { ...base, violationRate: 0.3, helpfulness: 0.8 })).toBeCloseTo(0.2, 12);
    expect(alignmentTax(base, { ...base, violationRate: 0.9 })).toBeNull();
  });
});

describe("comparisons", () => {
  it("win rate counts ties as half", () => {
    const a = new Map([
      ["x", 1],
      ["y", 0],
      ["z", 0.5],
      ["w", 1],
    ]);
    const b = new Map([
      ["x", 0],
      ["y", 1],
      ["z", 0.5],
    ]);
    expect(winRate(a, b)).toEqual({ winRate: (1 + 0 + 0.5) / 3, n: 3 });
  });
  it("Elo: one game from equal ratings moves each side by K/2; a dominant player ends on top", () => {
    expect(elo(["a", "b"], [{ a: "a", b: "b", result: 1 }], { k: 16, rounds: 1 })).toEqual({ a: 1008, b: 992 });
    const scores = {
      base: new Map([
        ["1", 0],
        ["2", 0],
        ["3", 1],
      ]),
      sl: new Map([
        ["1", 1],
        ["2", 0.5],
        ["3", 1],
      ]),
      rl: new Map([
        ["1", 1],
        ["2", 1],
        ["3", 1],
      ]),
    };
    const games = gamesFrom(scores);
    expect(games).toHaveLength(9);
    const r = elo(["base", "sl", "rl"], games);
    expect(r.rl).toBeGreaterThan(r.sl as number);
    expect(r.sl).toBeGreaterThan(r.base as number);
    expect((r.rl as number) + (r.sl as number) + (r.base as number)).toBeCloseTo(3000, 6);
  });
  it("Elo's seeded shuffle draws the world generator's stream (seed 0 included), so the quickstart's ratings are unchanged", () => {
    for (const seed of [0, 1, 12345]) {
      const world = new WorldRandom(seed);
      const ours = seededRandom(seed >>> 0 || 0x9e3779b9);
      const items = Array.from({ length: 20 }, (_, i) => i);
      expect(shuffle([...items], ours)).toEqual(world.shuffle([...items]));
    }
  });
});

describe("over-optimization", () => {
  it("finds the gold peak against sqrt(KL) and sees the proxy keep rising after it", () => {
    const series = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => ({ step: i * 10, kl: i * i, proxy: i, gold: i <= 4 ? i : 8 - i }));
    const o = overOptimization(series, 1);
    expect(o.peak?.step).toBe(40);
    expect(o.peak?.sqrtKl).toBe(4);
    expect(o.proxyRoseAfterPeak).toBe(true);
    expect(o.goldFellAfterPeak).toBe(true);
    const rising = overOptimization(
      series.map((p) => ({ ...p, gold: p.proxy })),
      1,
    );
    expect(rising.peak?.step).toBe(80);
    expect(rising.goldFellAfterPeak).toBe(false);
  });
});
