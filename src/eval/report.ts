/**
 * The quickstart's report: `summary.json` figures as one self-contained HTML
 * page (inline SVG charts, no scripts) and as a table for the terminal.
 */
import { barChart, lineChart, pointsWithCurveChart, scatterChart } from "./charts.js";
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
  /** `pass: null`: the check was skipped (`note` says why, e.g. a --fast run too short to show it). */
  acceptance: Record<string, AcceptanceCheck>;
  samples: { category: string; prompt: string; responses: Record<string, string> }[];
  timings: { name: string; status: string; seconds: number }[];
  /** The guard in front of evaluated stages (absent in summaries written before it existed). */
  guard?: GuardSection;
};

/** Gold-judge figures of one stage's replies, straight and as a client of the guard would see them. */
export type GuardStageFigures = {
  n: number;
  before: { violationRate: number; evasiveness: number; helpfulness: number };
  after: { violationRate: number; evasiveness: number; helpfulness: number };
  /** Relative fall of the violation rate; null when there was nothing to remove. */
  violationReduction: number | null;
  /** Refusals of harmless-but-scary requests, after minus before (points as a fraction). */
  evasivenessChange: number;
  blockedRequests: number;
  blockedReplies: number;
  flagged: number;
  blockedByPrinciple: Record<string, number>;
};

export type GuardSection = {
  policy: string;
  classifier: string;
  principles: { id: string; mode: string; stages: string[] }[];
  refusal: string;
  stages: Record<string, GuardStageFigures>;
};

export type AcceptanceCheck = { value: number | boolean | null; target: string; pass: boolean | null; note?: string };

/** How a check reads: PASS, FAIL, or skipped. */
export function checkResult(a: AcceptanceCheck): "PASS" | "FAIL" | "skipped" {
  return a.pass === null ? "skipped" : a.pass ? "PASS" : "FAIL";
}

/** One line over all checks: how many pass, which fail, which were skipped. */
export function verdictLine(acceptance: Record<string, AcceptanceCheck>): string {
  const entries = Object.entries(acceptance);
  const failed = entries.filter(([, a]) => a.pass === false).map(([name]) => name);
  const skipped = entries.filter(([, a]) => a.pass === null).map(([name]) => name);
  const judged = entries.length - skipped.length;
  const head =
    failed.length === 0 ? `all ${judged} checks pass` : `${judged - failed.length} of ${judged} checks pass; FAIL: ${failed.join("; ")}`;
  return `${head}${skipped.length > 0 ? `; skipped: ${skipped.join("; ")}` : ""}`;
}

/** What each column of the stage table means. */
export const STAGE_COLUMNS: [string, string][] = [
  ["violations", "share of held-out red-team prompts whose response the gold judge finds harmful (lower is better)"],
  ["helpfulness", "share of ordinary (harmless) requests the gold judge finds answered helpfully"],
  ["evasiveness", "share of harmless-but-scary requests refused or dodged (over-refusal; lower is better)"],
  ["gold score", "mean gold reward per response: the judge's rules as a number (never a training signal)"],
  ["RM score", "mean score of the trained reward model (the proxy PPO optimizes); – before it exists"],
  [
    "Elo",
    "Elo rating from the stages' gold scores compared prompt by prompt (every stage starts at 1000; averaged over 50 shuffled game orders)",
  ],
  [
    "alignment tax",
    "helpfulness lost per unit of harm removed since the base model: Δhelpfulness / Δviolations (negative: helpfulness rose; – when no harm was removed)",
  ],
];

/** Why KL can read negative, and what the over-optimization chart uses. */
export const KL_NOTE =
  "KL is TRL's objective/kl: for each sampled response the sum over its tokens of log π(token) − log π_ref(token) " +
  "(the k1 estimator), averaged over the batch. It is unbiased, but one response's value can be negative, and so can a " +
  "small batch's mean while the policy is still close to the reference; the true KL never is. The over-optimization " +
  "chart therefore plots sqrt(max(0, KL)).";

const EMPTY = "(empty)";

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

/** The guard section's table: one row per screened stage. */
export function guardTable(g: GuardSection): string[][] {
  const header = [
    "stage",
    "violations before",
    "violations after",
    "relative reduction",
    "scary refusals before",
    "scary refusals after",
    "helpfulness after",
    "requests blocked",
    "replies blocked",
    "flagged",
  ];
  const rows = Object.entries(g.stages).map(([name, f]) => [
    name,
    pct(f.before.violationRate),
    pct(f.after.violationRate),
    f.violationReduction === null ? "–" : pct(f.violationReduction),
    pct(f.before.evasiveness),
    pct(f.after.evasiveness),
    pct(f.after.helpfulness),
    `${f.blockedRequests} of ${f.n}`,
    `${f.blockedReplies} of ${f.n}`,
    String(f.flagged),
  ]);
  return [header, ...rows];
}

function guardHtml(g: GuardSection | undefined): string {
  if (!g) return "";
  const screened = g.principles.map((p) => `${p.id} (${p.mode}, ${p.stages.join(" + ")})`).join(", ");
  const byPrinciple = Object.entries(g.stages)
    .map(
      ([name, f]) =>
        `${name}: ${
          Object.entries(f.blockedByPrinciple)
            .map(([p, k]) => `${p} ${k}`)
            .join(", ") || "none"
        }`,
    )
    .join("; ");
  return `<h2>Guard</h2><p>The evaluated replies as a client of <code>precept guard</code> would see them: screened with the policy <code>${escapeHtml(g.policy)}</code> (${escapeHtml(g.classifier)}; principles ${escapeHtml(screened)}); a blocked request or reply becomes the refusal "${escapeHtml(g.refusal)}", and the gold judge rules again. Principles the policy does not screen keep their violations.</p>
<div id="guard">${htmlTable(guardTable(g))}</div>
<p>Blocks per principle: ${escapeHtml(byPrinciple)}.</p>`;
}

export function renderReport(s: ReportSummary): string {
  const stages = Object.keys(s.stages);
  const principles = Object.keys(Object.values(s.stages)[0]?.violationsByPrinciple ?? {});
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
    pointsWithCurveChart({
      title: `Over-optimization (kl_coef ${o.klCoef}): proxy and gold against sqrt(KL)`,
      xName: "sqrt(max(0, KL)) to the SL-CAI model",
      yName: "proxy reward (reward model)",
      y2Name: "gold reward (judge)",
      series: [
        { name: "proxy", points: o.points.map((p) => [p.sqrtKl, p.proxy]), color: "#5470c6" },
        { name: "gold", points: o.points.map((p) => [p.sqrtKl, p.gold]), yAxisIndex: 1, color: "#d48806" },
      ],
      ...(o.peak ? { mark: { x: o.peak.sqrtKl, y: o.peak.gold, label: `gold peak (step ${o.peak.step})`, yAxisIndex: 1 } } : {}),
    }),
    scatterChart({
      title: "Harmlessness against helpfulness, per stage",
      xName: "helpfulness (ordinary requests)",
      yName: "harmlessness (1 − violation rate)",
      points: stages.map((name) => ({ name, x: s.stages[name]?.helpfulness ?? 0, y: 1 - (s.stages[name]?.violationRate ?? 0) })),
    }),
    barChart({
      title: "Gold violation rate per principle",
      categories: principles,
      yName: "rate",
      series: stages.map((name) => ({
        name,
        values: principles.map((r) => Number((s.stages[name]?.violationsByPrinciple[r] ?? 0).toFixed(3))),
      })),
    }),
  ];
  const peak = o.peak
    ? `<p>Gold reward peaked at step ${o.peak.step} (sqrt(KL) ${o.peak.sqrtKl.toFixed(2)}, gold ${o.peak.gold.toFixed(3)}); after it the proxy ${o.proxyRoseAfterPeak ? "kept rising" : "did not keep rising"} and the gold ${o.goldFellAfterPeak ? "fell" : "did not fall"}.</p>`
    : "<p>No over-optimization run.</p>";
  const acceptance = Object.entries(s.acceptance)
    .map(([name, a]) => {
      const result = checkResult(a);
      const value = typeof a.value === "number" ? a.value.toFixed(3) : String(a.value);
      return `<tr class="${result === "skipped" ? "skip" : result.toLowerCase()}"><td>${escapeHtml(name)}</td><td>${escapeHtml(value)}</td><td>${escapeHtml(a.target)}</td><td class="result">${result}${a.note ? `<div class="note">${escapeHtml(a.note)}</div>` : ""}</td></tr>`;
    })
    .join("");
  const verdict = verdictLine(s.acceptance);
  const verdictClass = Object.values(s.acceptance).some((a) => a.pass === false) ? "fail" : "pass";
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
          .map(
            ([stage, text]) =>
              `<div><span class="stage">${escapeHtml(stage)}</span> ${text.trim() === "" ? `<span class="empty">${EMPTY}</span>` : escapeHtml(text)}</div>`,
          )
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
.empty{color:#888;font-style:italic}.verdict{font-size:1.1em;padding:8px 12px;border-radius:6px;font-weight:600}
.verdict.pass,tr.pass td.result{background:#e6f4ea;color:#1e6b34}.verdict.fail,tr.fail td.result{background:#fdecea;color:#a4221a}
tr.skip td.result{background:#f1f1f1;color:#555}td.result{font-weight:600}.note{font-weight:normal;font-size:0.85em;max-width:28em;text-align:left}
dl.columns{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:0.9em}dl.columns dt{font-weight:600}dl.columns dd{margin:0}
.kl{font-size:0.9em;color:#444;max-width:60em}
</style></head><body>
<h1>Precept quickstart: Constitutional AI and RLHF in the sandbox world</h1>
<p>Base model <code>${escapeHtml(s.baseModel)}</code>; ${s.fast ? "fast (shortened) run" : "full run"} in ${s.seconds.toFixed(0)} s, ${escapeHtml(s.generatedAt)}.
Every figure is measured by the gold judge (code with known rules, never a training signal) on held-out prompts.</p>
<p class="verdict ${verdictClass}" id="verdict">Verdict: ${escapeHtml(verdict)}</p>
<h2>Stages</h2>${htmlTable(stageTable(s))}
<dl class="columns">${STAGE_COLUMNS.map(([name, what]) => `<dt>${escapeHtml(name)}</dt><dd>${escapeHtml(what)}</dd>`).join("")}</dl>
<h2>Acceptance</h2><table id="acceptance"><thead><tr><th>check</th><th>value</th><th>target</th><th>result</th></tr></thead><tbody>${acceptance}</tbody></table>
${guardHtml(s.guard)}
<h2>Win rates</h2>${htmlTable([["pair", "gold judge", "reward model", "judge provider", "prompts"], ...winRows])}
<h2>Charts</h2><div class="charts">${charts.join("\n")}</div>
<p class="kl">${escapeHtml(KL_NOTE)}</p>
<h2>Over-optimization</h2>${peak}
<h2>Sample transcripts</h2>${samples}
<h2>Timings</h2>${htmlTable([["stage", "status", "seconds"], ...s.timings.map((t) => [t.name, t.status, t.seconds.toFixed(1)])])}
</body></html>
`;
}
