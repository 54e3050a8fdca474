/**
 * The report of a `cai run`: each stage's numbers and quality gates, a
 * verdict line, training curves (the evaluation report's chart code) and
 * sample transcripts (prompt, first response, final revision), as
 * `report.json` and one self-contained `report.html` in the recipe's out dir.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { transcripts } from "../cai/outputs.js";
import { lineChart } from "../eval/charts.js";
import type { GateResult } from "../quality/gate.js";
import type { Store } from "../store/store.js";
import type { Recipe, recipeDirs } from "./recipe.js";
import type { StageOutcome } from "./stages.js";

export type StageReport = {
  name: string;
  status: string;
  seconds: number;
  /** The stage's headline numbers (rows written, pairs, final metrics). */
  numbers: Record<string, number | string>;
  gates: GateResult[];
  /** Training stages: [step, loss] of metrics.jsonl. */
  loss: [number, number][];
};

export type RunReport = {
  generatedAt: string;
  out: string;
  verdict: string;
  failedGates: number;
  stages: StageReport[];
  samples: { prompt: string; first: string; final: string; revisions: number }[];
};

/** The recipe's stages and the `recipeDirs` entry each writes. */
export const RECIPE_STAGE_DIRS = { revise: "revise", sft: "slCai", label: "label", reward: "rm", ppo: "ppo", dpo: "dpo" } as const;

const readJson = (path: string): Record<string, unknown> | null => (existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : null);

function metricLines(dir: string): Record<string, number>[] {
  const path = join(dir, "metrics.jsonl");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as Record<string, number>);
}

/** The last logged value of each metric (training window and evaluation alike). */
function finalMetrics(lines: Record<string, number>[]): Record<string, number> {
  const last: Record<string, number> = {};
  for (const line of lines) for (const [k, v] of Object.entries(line)) if (typeof v === "number") last[k] = v;
  return last;
}

const SHOWN = ["loss", "accuracy", "eval_accuracy", "eval_rewards/accuracies", "rewards/margins", "objective/kl", "objective/scores"];

/** `dirs`: the recipe's stage directories (recipeDirs; passed in, so this file does not import recipe.ts at run time). */
export async function buildRunReport(
  recipe: Pick<Recipe, "out">,
  dirs: ReturnType<typeof recipeDirs>,
  outcomes: StageOutcome[],
  store: Store,
  sampleCount = 6,
): Promise<RunReport> {
  let samples: RunReport["samples"] = [];
  const stageDirs: Record<string, string> = Object.fromEntries(Object.entries(RECIPE_STAGE_DIRS).map(([stage, key]) => [stage, dirs[key]]));
  const stages = outcomes.map((o): StageReport => {
    const dir = stageDirs[o.name] ?? join(recipe.out, o.name);
    const base = { name: o.name, status: o.status, seconds: o.seconds, loss: [] as [number, number][] };
    if (o.name === "revise" || o.name === "label") {
      const s = readJson(o.name === "revise" ? join(dir, "summary.json") : join(dir, "preferences.summary.json")) ?? {};
      const numbers: Record<string, number | string> =
        o.name === "revise"
          ? {
              prompts: Number(s.prompts ?? 0),
              "responses changed": Number(s.revisedShare ?? 0),
              "SFT rows": Number((s.sft as { rows?: number } | undefined)?.rows ?? 0),
              "preference rows": Number((s.preferences as { rows?: number } | undefined)?.rows ?? 0),
            }
          : {
              pairs: Number(s.pairs ?? 0),
              "mean confidence": Number(s.meanConfidence ?? 0),
              "position-bias rate": Number(s.positionBiasRate ?? 0),
            };
      return { ...base, numbers, gates: (s.gates as GateResult[] | undefined) ?? [] };
    }
    const lines = metricLines(dir);
    const last = finalMetrics(lines);
    return {
      ...base,
      numbers: Object.fromEntries(SHOWN.filter((k) => last[k] !== undefined).map((k) => [k, last[k] as number])),
      gates: (readJson(join(dir, "gates.json")) as GateResult[] | null) ?? [],
      loss: lines.filter((l) => l.loss !== undefined && l.step !== undefined).map((l) => [l.step as number, l.loss as number]),
    };
  });
  const revise = readJson(join(dirs.revise, "summary.json"));
  if (revise && typeof revise.run === "string") {
    samples = transcripts(await store.records(revise.run))
      .filter((t) => t.set === "red-team")
      .slice(0, sampleCount)
      .map((t) => ({ prompt: t.prompt, first: t.initial, final: t.final, revisions: t.revisions }));
  }
  const failed = stages.flatMap((s) => s.gates.filter((g) => !g.ok).map((g) => `${s.name} ${g.gate}`));
  return {
    generatedAt: new Date().toISOString(),
    out: recipe.out,
    verdict:
      failed.length === 0
        ? "every quality gate passed"
        : `${failed.length} quality gate(s) failed (${failed.join(", ")}): the outputs of those stages need a look before they are used`,
    failedGates: failed.length,
    stages,
    samples,
  };
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
const shown = (x: number | string) => (typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(3)) : x);
/** An empty response is shown as such, not as a blank. */
const text = (t: string) => (t.trim().length === 0 ? '<i class="empty">(empty)</i>' : escapeHtml(t));

export function renderRunReport(r: RunReport): string {
  const stageRows = r.stages
    .map(
      (s) =>
        `<tr><td class="l">${escapeHtml(s.name)}</td><td>${s.status}</td><td>${s.seconds.toFixed(1)}</td><td class="l">${Object.entries(
          s.numbers,
        )
          .map(([k, v]) => `${escapeHtml(k)} ${escapeHtml(shown(v))}`)
          .join("; ")}</td></tr>`,
    )
    .join("");
  const gateRows = r.stages
    .flatMap((s) =>
      s.gates.map(
        (g) =>
          `<tr class="${g.ok ? "pass" : "warn"}"><td class="l">${escapeHtml(s.name)}</td><td class="l">${g.gate}</td><td>${g.ok ? "PASS" : "WARN"}</td><td class="l">${escapeHtml(g.finding)}${g.ok ? "" : `<br><small>${escapeHtml(g.advice)}</small>`}</td></tr>`,
      ),
    )
    .join("");
  const charts = r.stages
    .filter((s) => s.loss.length > 1)
    .map((s) => lineChart({ title: `${s.name}: training loss`, xName: "step", yName: "loss", series: [{ name: "loss", points: s.loss }] }))
    .join("");
  const samples = r.samples
    .map(
      (x) =>
        `<div class="sample"><div><b>prompt</b> ${text(x.prompt)}</div><div><b>first response</b> ${text(x.first)}</div><div><b>final (${x.revisions} revision${x.revisions === 1 ? "" : "s"})</b> ${text(x.final)}</div></div>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Precept pipeline quality report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right;vertical-align:top}td.l,th.l{text-align:left}
tr.warn td{background:#fff1e6}tr.pass td:nth-child(3){color:#1a7f37}tr.warn td:nth-child(3){color:#b35900;font-weight:bold}
.verdict{font-size:1.1em;padding:.6em 1em;border-radius:4px}.verdict.ok{background:#e6f4ea}.verdict.bad{background:#fff1e6}
.sample{border-left:3px solid #ccc;padding:.3em .8em;margin:.8em 0}.empty{color:#999}
</style></head><body>
<h1>Pipeline quality report</h1>
<p class="verdict ${r.failedGates === 0 ? "ok" : "bad"}">${escapeHtml(r.verdict)}</p>
<p>${escapeHtml(r.out)}, ${escapeHtml(r.generatedAt)}</p>
<h2>Stages</h2>
<table><thead><tr><th class="l">stage</th><th>status</th><th>seconds</th><th class="l">numbers (final logged values)</th></tr></thead><tbody>${stageRows}</tbody></table>
<h2>Quality gates</h2>
<p>Each gate checks one thing a stage produced against a threshold; WARN says what it means and what to try. <code>strict: true</code> in the recipe (or <code>cai run --strict</code>) stops at the first stage with a WARN.</p>
<table><thead><tr><th class="l">stage</th><th class="l">gate</th><th>result</th><th class="l">finding</th></tr></thead><tbody>${gateRows}</tbody></table>
${charts ? `<h2>Training</h2>${charts}` : ""}
<h2>Sample transcripts (revise)</h2>
${samples || "<p>No transcripts.</p>"}
</body></html>
`;
}

/** Builds the report and writes `NAME.json` and `NAME.html` (default `report`) to the recipe's out dir; returns it. */
export async function writeRunReport(
  recipe: Pick<Recipe, "out">,
  dirs: ReturnType<typeof recipeDirs>,
  outcomes: StageOutcome[],
  store: Store,
  name = "report",
): Promise<RunReport> {
  const report = await buildRunReport(recipe, dirs, outcomes, store);
  writeFileSync(join(recipe.out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(recipe.out, `${name}.html`), renderRunReport(report));
  return report;
}
