/**
 * The quickstart's report: `summary.json` figures as one self-contained HTML
 * page (inline SVG charts, no scripts) and as a table for the terminal.
 */
import { RULES } from "../world/judge.js";
import { barChart, lineChart, scatterChart } from "./charts.js";
import type { OptimizationPoint, StageMetrics } from "./metrics.js";

export type StageSummary = StageMetrics & { rewardModelScore: number | null; elo: number; alignmentTax: number | null };

export type ReportSummary = {
  generatedAt: string;
  seconds: number;
  fast: boolean;
  baseModel: string;
  stages: Record<string, StageSummary>;
  winRates: Record<string, { gold: number; rewardModel: number | null; judge: number | null; n: number }>;
  ppo: OptimizationPoint[];
  overOptimization: {
    klCoef: number;
    points: (OptimizationPoint & { sqrtKl: number })[];
    peak: { step: number; sqrtKl: number; gold: number; proxy: number } | null;
    proxyRoseAfterPeak: boolean;
    goldFellAfterPeak: boolean;
  };
  acceptance: Record<string, { value: number | boolean | null; target: string; pass: boolean }>;
  samples: { category: string; prompt: string; responses: Record<string, string> }[];
  timings: { name: string; status: string; seconds: number }[];
};

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const fixed = (x: number | null, digits = 3) => (x === null || Number.isNaN(x) ? "–" : x.toFixed(digits));

export function stageTable(summary: ReportSummary): string[][] {
  const header = ["stage", "violations", "helpfulness", "evasiveness", "gold score", "RM score", "Elo", "alignment tax"];
  const rows = Object.entries(summary.stages).map(([name, s]) => [
    name,
    pct(s.violationRate),
    pct(s.helpfulness),
    pct(s.evasiveness),
    fixed(s.goldScore),
    fixed(s.rewardModelScore),
    s.elo.toFixed(0),
    fixed(s.alignmentTax, 2),
  ]);
  return [header, ...rows];
}

/** The stage table as aligned text columns. */
export function terminalTable(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] as number)).join("  ")).join("\n");
}

function htmlTable(rows: string[][]): string {
  const [head, ...body] = rows;
  return `<table><thead><tr>${(head ?? []).map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${body
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

export function renderReport(s: ReportSummary): string {
  const stages = Object.keys(s.stages);
  const o = s.overOptimization;
  const charts = [
    lineChart({
      title: "PPO (RL-CAI): proxy reward, gold reward and KL",
      xName: "step",
      yName: "reward",
      y2Name: "KL",
      series: [
        { name: "proxy (reward model)", points: s.ppo.map((p) => [p.step, p.proxy]) },
        { name: "gold (judge)", points: s.ppo.map((p) => [p.step, p.gold]) },
        { name: "KL to SL-CAI", points: s.ppo.map((p) => [p.step, p.kl]), yAxisIndex: 1 },
      ],
    }),
    lineChart({
      title: `Over-optimization (kl_coef ${o.klCoef}): proxy and gold against sqrt(KL)`,
      xName: "sqrt(KL)",
      yName: "proxy",
      y2Name: "gold",
      series: [
        { name: "proxy (reward model)", points: o.points.map((p) => [p.sqrtKl, p.proxy]) },
        {
          name: "gold (judge)",
          points: o.points.map((p) => [p.sqrtKl, p.gold]),
          yAxisIndex: 1,
          ...(o.peak ? { mark: { x: o.peak.sqrtKl, y: o.peak.gold, label: "gold peak" } } : {}),
        },
      ],
    }),
    scatterChart({
      title: "Harmlessness against helpfulness, per stage",
      xName: "helpfulness (ordinary requests)",
      yName: "harmlessness (1 − violation rate)",
      points: stages.map((name) => ({ name, x: s.stages[name]?.helpfulness ?? 0, y: 1 - (s.stages[name]?.violationRate ?? 0) })),
    }),
    barChart({
      title: "Gold violation rate per principle",
      categories: [...RULES],
      yName: "rate",
      series: stages.map((name) => ({
        name,
        values: RULES.map((r) => Number((s.stages[name]?.violationsByPrinciple[r] ?? 0).toFixed(3))),
      })),
    }),
  ];
  const peak = o.peak
    ? `<p>Gold reward peaked at step ${o.peak.step} (sqrt(KL) ${o.peak.sqrtKl.toFixed(2)}, gold ${o.peak.gold.toFixed(3)}); after it the proxy ${o.proxyRoseAfterPeak ? "kept rising" : "did not keep rising"} and the gold ${o.goldFellAfterPeak ? "fell" : "did not fall"}.</p>`
    : "<p>No over-optimization run.</p>";
  const acceptance = Object.entries(s.acceptance).map(([name, a]) => [
    name,
    typeof a.value === "number" ? a.value.toFixed(3) : String(a.value),
    a.target,
    a.pass ? "pass" : "FAIL",
  ]);
  const winRows = Object.entries(s.winRates).map(([pair, w]) => [
    pair,
    pct(w.gold),
    w.rewardModel === null ? "–" : pct(w.rewardModel),
    w.judge === null ? "–" : pct(w.judge),
    String(w.n),
  ]);
  const samples = s.samples
    .map(
      (x) =>
        `<div class="sample"><div class="prompt"><b>${escapeHtml(x.category)}</b>: ${escapeHtml(x.prompt)}</div>${Object.entries(
          x.responses,
        )
          .map(([stage, text]) => `<div><span class="stage">${escapeHtml(stage)}</span> ${escapeHtml(text)}</div>`)
          .join("")}</div>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Precept quickstart report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}th:first-child,td:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:12px}.sample{border:1px solid #ddd;border-radius:6px;padding:8px;margin:8px 0}
.stage{display:inline-block;min-width:90px;color:#555;font-size:0.9em}.prompt{margin-bottom:4px}
</style></head><body>
<h1>Precept quickstart: Constitutional AI and RLHF in the sandbox world</h1>
<p>Base model <code>${escapeHtml(s.baseModel)}</code>; ${s.fast ? "fast (shortened) run" : "full run"} in ${s.seconds.toFixed(0)} s, ${escapeHtml(s.generatedAt)}.
Every figure is measured by the gold judge (code with known rules, never a training signal) on held-out prompts.</p>
<h2>Stages</h2>${htmlTable(stageTable(s))}
<h2>Acceptance</h2>${htmlTable([["check", "value", "target", "result"], ...acceptance])}
<h2>Win rates</h2>${htmlTable([["pair", "gold judge", "reward model", "judge provider", "prompts"], ...winRows])}
<h2>Charts</h2><div class="charts">${charts.join("\n")}</div>
<h2>Over-optimization</h2>${peak}
<h2>Sample transcripts</h2>${samples}
<h2>Timings</h2>${htmlTable([["stage", "status", "seconds"], ...s.timings.map((t) => [t.name, t.status, t.seconds.toFixed(1)])])}
</body></html>
`;
}
