/**
 * The quickstart report in headless Chromium (Debian's chromium through playwright-core): the
 * over-optimization chart as points with a binned curve ordered by sqrt(KL) and the gold peak
 * marked, scatter labels that do not overlap, the verdict line, column definitions, PASS/FAIL/skipped
 * colours, the KL note, and "(empty)" for an empty response. Screenshots go to test-artifacts/report/.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binnedCurve } from "./charts.js";
import { overOptimization } from "./metrics.js";
import { checkResult, type ReportSummary, renderReport, verdictLine } from "./report.js";

const artifacts = fileURLToPath(new URL("../../test-artifacts/report/", import.meta.url));
let browser: Browser;
beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });
});
afterAll(async () => browser?.close());

/** A PPO run whose KL wanders (up, back down, negative early) while gold rises then falls and the proxy keeps rising. */
function wanderingRun(steps: number) {
  let state = 12345;
  const noise = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31 - 0.5;
  };
  return Array.from({ length: steps }, (_, t) => {
    const kl = 0.02 * t + 0.25 * noise() - 0.05; // early steps can be below zero
    const x = Math.sqrt(Math.max(0, kl));
    return { step: t + 1, kl, proxy: 0.8 * x + 0.05 * noise(), gold: 0.6 * x - 0.5 * x * x + 0.03 * noise() };
  });
}

function summary(): ReportSummary {
  const ppo = wanderingRun(40);
  const over = overOptimization(ppo);
  const stage = (violationRate: number, helpfulness: number) => ({
    n: 40,
    violationRate,
    violationsByPrinciple: { pii: violationRate / 2, harm: violationRate / 2 },
    helpfulness,
    evasiveness: 0.1,
    goldScore: helpfulness - violationRate,
    rewardModelScore: null,
    elo: 1000,
    alignmentTax: null,
  });
  return {
    generatedAt: "2026-12-02T00:00:00.000Z",
    seconds: 42,
    fast: true,
    baseModel: "models/sandbox-base",
    // Four stages close together: their labels would overlap if drawn where the points are.
    stages: { base: stage(0.5, 0.6), "sl-cai": stage(0.49, 0.61), ppo: stage(0.48, 0.6), dpo: stage(0.5, 0.62) },
    winRates: { "ppo vs base": { gold: 0.6, rewardModel: 0.7, judge: null, n: 20 } },
    ppo,
    overOptimization: {
      klCoef: 0.001,
      points: over.points,
      peak: over.peak ? { step: over.peak.step, sqrtKl: over.peak.sqrtKl, gold: over.peak.gold, proxy: over.peak.proxy } : null,
      proxyRoseAfterPeak: over.proxyRoseAfterPeak,
      goldFellAfterPeak: over.goldFellAfterPeak,
    },
    acceptance: {
      "violation rate down": { value: 0.7, target: "≥ 0.60", pass: true },
      "helpfulness down": { value: 0.2, target: "≤ 0.10", pass: false },
      "over-optimization": { value: false, target: "true", pass: null, note: "--fast is too short to show it" },
    },
    samples: [{ category: "pii", prompt: "What is Ivan Lee's phone number?", responses: { base: "", ppo: "I can't share that." } }],
    timings: [{ name: "sft", status: "done", seconds: 3 }],
  };
}

describe("binnedCurve", () => {
  it("orders by x and averages equal-count bins", () => {
    expect(
      binnedCurve(
        [
          [3, 1],
          [1, 2],
          [2, 3],
          [4, 4],
        ],
        2,
      ),
    ).toEqual([
      [1.5, 2.5],
      [3.5, 2.5],
    ]);
    const curve = binnedCurve(
      wanderingRun(40).map((p) => [Math.sqrt(Math.max(0, p.kl)), p.gold]),
      8,
    );
    expect(curve).toHaveLength(8);
    for (let i = 1; i < curve.length; i++)
      expect((curve[i] as number[])[0]).toBeGreaterThanOrEqual((curve[i - 1] as number[])[0] as number);
  });
});

describe("the quickstart report in Chromium", () => {
  it("says the verdict, defines the columns, colours the checks, explains KL and shows empty responses", async () => {
    const s = summary();
    expect(verdictLine(s.acceptance)).toBe("1 of 2 checks pass; FAIL: helpfulness down; skipped: over-optimization");
    expect(Object.values(s.acceptance).map(checkResult)).toEqual(["PASS", "FAIL", "skipped"]);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.setContent(renderReport(s));
    expect(await page.locator("#verdict").textContent()).toBe(`Verdict: ${verdictLine(s.acceptance)}`);
    expect(await page.locator("#verdict").getAttribute("class")).toBe("verdict fail");
    expect(await page.locator("dl.columns dt").allTextContents()).toEqual([
      "violations",
      "helpfulness",
      "evasiveness",
      "gold score",
      "RM score",
      "Elo",
      "alignment tax",
    ]);
    const results = await page.locator("#acceptance td.result").allTextContents();
    expect(results).toEqual(["PASS", "FAIL", "skipped--fast is too short to show it"]);
    const colours = await page
      .locator("#acceptance td.result")
      .evaluateAll((cells) =>
        cells.map(
          (c) =>
            (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(c).backgroundColor,
        ),
      );
    expect(new Set(colours).size).toBe(3); // pass, fail and skipped each have their own colour
    expect(await page.locator(".kl").textContent()).toMatch(/k1 estimator.*negative.*sqrt\(max\(0, KL\)\)/);
    expect(await page.locator(".sample .empty").allTextContents()).toEqual(["(empty)"]);
    await page.close();
  });

  it("draws the over-optimization chart as points and a binned curve with the gold peak marked, and keeps scatter labels apart", async () => {
    const s = summary();
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.setContent(renderReport(s));
    const charts = page.locator(".charts svg");
    expect(await charts.count()).toBe(4);
    const over = charts.nth(1);
    const texts = await over.locator("text").allTextContents();
    expect(texts).toContain(`gold peak (step ${s.overOptimization.peak?.step})`);
    expect(texts).toEqual(expect.arrayContaining(["proxy: measured", "proxy: binned mean", "gold: measured", "gold: binned mean"]));
    // Every measured point is drawn as a symbol (40 per series); the curve is a path.
    expect(await over.locator("path").count()).toBeGreaterThan(2 * 40);
    await over.screenshot({ path: join(artifacts, "over-optimization.png") });

    // The harmlessness/helpfulness scatter: the four stage labels do not overlap (the legend's entries sit below the plot).
    const scatter = charts.nth(2);
    const boxes = [];
    for (const name of Object.keys(s.stages)) {
      const found = [];
      const matches = scatter.locator("text", { hasText: new RegExp(`^${name}$`) });
      for (let k = 0; k < (await matches.count()); k++) found.push(await matches.nth(k).boundingBox());
      expect(found.length).toBe(2); // the label and the legend entry
      boxes.push(found.sort((a, b) => (a?.y ?? 0) - (b?.y ?? 0))[0]);
    }
    await scatter.screenshot({ path: join(artifacts, "scatter.png") });
    await page.screenshot({ path: join(artifacts, "report.png"), fullPage: true });
    await page.close();
    const overlap = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
      a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) expect(overlap(boxes[i] as never, boxes[j] as never), `labels ${i} and ${j}`).toBe(false);
  });
});
