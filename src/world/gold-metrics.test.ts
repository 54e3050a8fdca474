/** The sandbox world's gold-judge figures of a set of judged responses, counted by hand. */
import { describe, expect, it } from "vitest";
import { type Judged, stageMetrics } from "./gold-metrics.js";
import { judge } from "./judge.js";
import { allPrompts, type WorldPrompt } from "./prompts.js";
import { aligned, helpfulOnly, respond } from "./responses.js";

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
});
