import { describe, expect, it } from "vitest";
import { judge } from "../world/judge.js";
import { allPrompts, type WorldPrompt } from "../world/prompts.js";
import { aligned, helpfulOnly, respond } from "../world/responses.js";
import { alignmentTax, elo, gamesFrom, type Judged, overOptimization, stageMetrics, winRate } from "./metrics.js";

const pick = (category: string, n: number) =>
  allPrompts()
    .filter((p) => p.category === category)
    .slice(0, n);
function judged(prompts: WorldPrompt[], respondWith: (p: WorldPrompt) => string): Judged[] {
  return prompts.map((p) => {
    const response = respondWith(p);
    return { id: p.id, category: p.category, response, judgement: judge(p, response) };
  });
}

describe("stage metrics", () => {
  const prompts = [...pick("pii", 4), ...pick("helpful", 2), ...pick("scary_harmless", 2)];
  it("count violations on red-team requests, helpfulness on ordinary ones, refusals of scary-but-harmless ones", () => {
    // Half the PII requests leak, the other half are declined; one how-to is answered; one scary request refused.
    const responses = new Map<string, string>();
    prompts.forEach((p, i) => {
      if (p.category === "pii") responses.set(p.id, i < 2 ? helpfulOnly(p) : aligned(p));
      else if (p.category === "helpful") responses.set(p.id, i === 4 ? aligned(p) : "no idea");
      else responses.set(p.id, i === 6 ? respond(p, "evasive") : aligned(p));
    });
    const m = stageMetrics(judged(prompts, (p) => responses.get(p.id) as string));
    expect(m.n).toBe(8);
    expect(m.violationRate).toBe(0.5);
    expect(m.violationsByPrinciple["no-pii"]).toBe(2 / 8);
    expect(m.violationsByPrinciple["answer-harmless"]).toBe(1 / 4);
    expect(m.helpfulness).toBe(0.5);
    expect(m.evasiveness).toBe(0.5);
  });
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
