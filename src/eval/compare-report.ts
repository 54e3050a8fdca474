/**
 * The page of `precept eval compare A B --html FILE`: per suite, the paired
 * tests of every outcome (A, B, B − A with its paired bootstrap interval,
 * McNemar's p), and every per-group breakdown the two runs share (refusal
 * rate by XSTest type, accuracy per tag…) as one table and one chart with
 * both models' bars and 95% error bars side by side.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Comparison } from "./compare.js";
import { type Breakdown, breakdowns, type Figure, intervalChart } from "./eval-report.js";
import { ci, escapeHtml, num, table } from "./html.js";
import type { EvalSummary } from "./run.js";

const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")) as EvalSummary;

function sharedBreakdown(a: Breakdown, b: Breakdown | undefined, models: [string, string]): string {
  const title = a.path.join(" · ");
  const byName = (bd: Breakdown | undefined) => new Map((bd?.groups ?? []).map((g) => [g.name, g]));
  const ga = byName(a);
  const gb = byName(b);
  // Groups with items in either run; a group one run lacks shows as "–".
  const names = [...new Set([...ga.keys(), ...gb.keys()])].filter((n) => (ga.get(n)?.n ?? 1) > 0 || (gb.get(n)?.n ?? 1) > 0);
  const cell = (f?: Figure) => (f ? `${num(f.value)} ${ci(f.ci95)}` : "–");
  const bars = (m: Map<string, { name: string } & Figure>) => names.map((n) => m.get(n) ?? { value: 0 });
  return `<div class="groups" data-group="${escapeHtml(title)}"><h3>${escapeHtml(title)}</h3>${table(
    ["group", "n", `A: ${models[0]}`, `B: ${models[1]}`],
    names.map((n) => [n, String(ga.get(n)?.n ?? gb.get(n)?.n ?? ""), cell(ga.get(n)), cell(gb.get(n))]),
  )}${intervalChart(title, names, [
    { name: `A ${models[0]}`, bars: bars(ga) },
    { name: `B ${models[1]}`, bars: bars(gb) },
  ])}</div>`;
}

export function renderComparisonReport(dirA: string, dirB: string, comparison: Comparison): string {
  const A = summaryOf(dirA);
  const B = summaryOf(dirB);
  const models: [string, string] = [comparison.a, comparison.b];
  const sections = Object.entries(comparison.suites).map(([suite, outcomes]) => {
    const tests = Object.entries(outcomes).map(([name, o]) => [
      name,
      String(o.n),
      num(o.a),
      num(o.b),
      `${num(o.difference.diff)} ${ci(o.difference.ci95)}`,
      o.mcnemar.p.toPrecision(3),
      o.significant ? "significant" : "not significant",
    ]);
    const inB = breakdowns((B.suites[suite] ?? {}) as Record<string, unknown>);
    const shared = breakdowns((A.suites[suite] ?? {}) as Record<string, unknown>).map((bd) =>
      sharedBreakdown(
        bd,
        inB.find((x) => x.path.join("/") === bd.path.join("/")),
        models,
      ),
    );
    return `<section class="suite" id="suite-${escapeHtml(suite)}" data-suite="${escapeHtml(suite)}"><h2>${escapeHtml(suite)}</h2>
${table(["outcome", "paired items", "A", "B", "B − A [95% CI]", "McNemar p", "at 0.05"], tests, "tests")}
${shared.join("\n")}</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Precept comparison</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.6em 0}th,td{border:1px solid #ccc;padding:3px 9px;text-align:right}th:first-child,td:first-child{text-align:left}
section.suite{border-top:2px solid #ddd;margin-top:1.5em}
</style></head><body>
<h1>A <code>${escapeHtml(models[0])}</code> against B <code>${escapeHtml(models[1])}</code></h1>
<p>The same items paired by key: McNemar's exact test on the items where the two differ, and a seeded paired bootstrap
interval of B − A; per-group rates carry Wilson 95% intervals.</p>
${sections.join("\n")}
</body></html>
`;
}
