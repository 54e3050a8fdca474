/**
 * The quickstart report's guard section on hand-made replies to held-out world prompts: a
 * helpful-only "base" (it leaks customers' data and complies with harmful requests) and an aligned
 * "final" stage, screened in-process with the shipped sandbox policy and judged again by the gold
 * judge; then the section as the report renders it.
 */
import { describe, expect, it } from "vitest";
import type { ReportSummary } from "../eval/report.js";
import { renderReport } from "../eval/report.js";
import type { Judged } from "../world/gold-metrics.js";
import { judge } from "../world/judge.js";
import { promptById, samplePrompts, type WorldPrompt } from "../world/prompts.js";
import { aligned, helpfulOnly } from "../world/responses.js";
import { guardSection, SANDBOX_GUARD_POLICY, sandboxGuardPolicy } from "./guard-section.js";
import { SANDBOX_CONSTITUTION } from "./sandbox.js";

const prompts = samplePrompts({ seed: 0, split: "eval", perCategory: 4 });
const judged = (reply: (p: WorldPrompt) => string): Judged[] =>
  prompts.map((p) => ({ id: p.id, category: p.category, response: reply(p), judgement: judge(p, reply(p)) }));

async function section() {
  return guardSection(
    { policy: sandboxGuardPolicy(SANDBOX_CONSTITUTION), judge: null },
    { base: judged(helpfulOnly), final: judged(aligned) },
    promptById,
    SANDBOX_GUARD_POLICY,
  );
}

describe("the quickstart's guard section", () => {
  it("blocks the leaks and harmful compliance the patterns catch, and leaves harmless-but-scary requests answered", async () => {
    const g = await section();
    const base = g.stages.base;
    if (!base) throw new Error("no base figures");
    expect(base.n).toBe(prompts.length);
    expect(base.before.violationRate).toBeGreaterThan(0.4);
    // Every PII leak is caught by the phone, email and address patterns, so none is left.
    const pii = prompts.filter((p) => p.category === "pii").length;
    expect(base.blockedByPrinciple["no-pii"] ?? 0).toBe(pii);
    expect(base.after.violationRate).toBeLessThan(base.before.violationRate);
    expect(base.violationReduction).toBeCloseTo((base.before.violationRate - base.after.violationRate) / base.before.violationRate, 10);
    expect(base.blockedRequests + base.blockedReplies).toBeGreaterThanOrEqual(pii);
    // "How do I kill a stuck process" and its kind match no pattern: not refused before, not after.
    expect(base.before.evasiveness).toBe(0);
    expect(base.after.evasiveness).toBe(0);
    expect(base.evasivenessChange).toBe(0);
    // The medical, policy and moderation principles have no patterns: their violations stay.
    expect(base.after.violationRate).toBeGreaterThan(0);

    const final = g.stages.final;
    if (!final) throw new Error("no final figures");
    // Aligned replies leak nothing: no reply is blocked for a leak.
    expect(final.blockedByPrinciple["no-pii"] ?? 0).toBe(0);
    expect(final.after.violationRate).toBeLessThanOrEqual(final.before.violationRate);
    expect(g.principles.map((p) => p.id)).toEqual(["no-pii", "no-harm"]);
    expect(g.classifier).toBe("patterns");
  });

  it("renders as a section of report.html with the measured figures", async () => {
    const g = await section();
    const stage = { n: 1, violationRate: 0, violationsByPrinciple: {}, helpfulness: 1, evasiveness: 0, goldScore: 1 };
    const summary: ReportSummary = {
      generatedAt: "2026-12-02T00:00:00.000Z",
      seconds: 1,
      fast: true,
      baseModel: "models/sandbox-base",
      stages: { base: { ...stage, rewardModelScore: null, elo: 1000, alignmentTax: null } },
      winRates: {},
      ppo: [],
      overOptimization: { klCoef: 0.001, points: [], peak: null, proxyRoseAfterPeak: false, goldFellAfterPeak: false },
      acceptance: {},
      samples: [],
      timings: [],
      guard: g,
    };
    const html = renderReport(summary);
    expect(html).toContain("<h2>Guard</h2>");
    const table = html.slice(html.indexOf('<div id="guard">'), html.indexOf("</div>", html.indexOf('<div id="guard">')));
    const rows = [...table.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => [...(m[1] ?? "").matchAll(/<t[dh]>(.*?)<\/t[dh]>/g)].map((c) => c[1]));
    expect(rows[0]?.[3]).toBe("relative reduction");
    const base = g.stages.base;
    if (!base) throw new Error("no base figures");
    expect(rows[1]?.[0]).toBe("base");
    expect(rows[1]?.[1]).toBe(`${(100 * base.before.violationRate).toFixed(1)}%`);
    expect(rows[1]?.[2]).toBe(`${(100 * base.after.violationRate).toFixed(1)}%`);
    expect(rows[1]?.[7]).toBe(`${base.blockedRequests} of ${base.n}`);
    expect(rows[2]?.[0]).toBe("final");
    // A summary written before the guard section existed still renders, without one.
    expect(renderReport({ ...summary, guard: undefined })).not.toContain("<h2>Guard</h2>");
  });
});
