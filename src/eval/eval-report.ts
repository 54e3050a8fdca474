/**
 * The report of `precept eval run` (`report.html`): one self-contained page
 * (inline SVG charts, no scripts), a section per suite with its figures and
 * their 95% intervals, a table and a chart with error bars for every per-group
 * breakdown (per tag, XSTest type, category, principle), and sample
 * transcripts (an empty response is shown as "(empty)", not as nothing).
 * It reads only the summary and the per-item rows, so any suite that speaks
 * the generic result language gets a section.
 */
import { renderSvg } from "./charts.js";
import { ci, escapeHtml, num, table } from "./html.js";
import type { EvalSummary } from "./run.js";
import type { Interval } from "./stats.js";
import type { ResultRow } from "./suite.js";

/** A figure with its interval: a Wilson rate `{k, n, rate, ci95}`, `{n, accuracy, ci95}`, a bootstrap `{diff, ci95}`. */
export type Figure = { value: number; ci95?: Interval; n?: number };

const VALUE_KEYS = ["rate", "accuracy", "refusalRate", "complianceRate", "attackSuccessRate", "violationRate", "diff"];
/** Fields that say how a summary was made, not what it measured. */
const BOOKKEEPING = new Set(["spec", "runId", "results", "skipReasons", "n", "skipped", "correct", "k"]);

const isInterval = (x: unknown): x is Interval => Array.isArray(x) && x.length === 2 && x.every((v) => typeof v === "number");
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

function asFigure(x: unknown): Figure | null {
  if (typeof x === "number") return { value: x };
  // A figure holds numbers and its interval only; an object with parts of its own (XSTest's `safe`) is a section.
  if (!isObject(x) || !isInterval(x.ci95) || Object.values(x).some((v) => isObject(v))) return null;
  const key = VALUE_KEYS.find((k) => typeof x[k] === "number");
  if (!key) return null;
  return { value: x[key] as number, ci95: x.ci95, ...(typeof x.n === "number" ? { n: x.n } : {}) };
}

/** The interval reported beside a figure: `ci95` for the main one, `<name>Ci95` or `ci95<Suffix>` for others. */
function intervalOf(obj: Record<string, unknown>, key: string, main: string | undefined): Interval | undefined {
  const candidates = [key === main ? "ci95" : "", `${key}Ci95`, `ci95${key.replace(/^[a-z]+(?=[A-Z])/, "")}`];
  for (const c of candidates) if (c && isInterval(obj[c])) return obj[c] as Interval;
  return undefined;
}

type Bar = { value: number; ci95?: Interval };

/** Bars with 95% error bars: one bar per group, or one per model in each group. */
export function intervalChart(title: string, categories: string[], series: { name: string; bars: Bar[] }[]): string {
  const all = series.flatMap((s) => s.bars);
  const unit = all.every((b) => b.value <= 1 && (b.ci95?.[1] ?? 0) <= 1);
  // Where ECharts puts bar i of a category, for its error bar: bars share 80% of the band (20% category gap)
  // with 30% gaps between them, each at most MAX_BAR px wide, the group centred in the band.
  const k = series.length;
  const MAX_BAR = 40;
  const offset = (i: number, band: number) => {
    const width = Math.min(MAX_BAR, (0.8 * band) / (k + 0.3 * (k - 1)));
    const total = k * width + (k - 1) * 0.3 * width;
    return -total / 2 + i * 1.3 * width + width / 2;
  };
  return renderSvg(
    {
      title: { text: title, left: "center", textStyle: { fontSize: 13 } },
      ...(k > 1 ? { legend: { bottom: 0 } } : {}),
      grid: { left: 50, right: 20, top: 40, bottom: k > 1 ? 90 : 70 },
      xAxis: { type: "category", data: categories, axisLabel: { rotate: categories.length > 4 ? 25 : 0, fontSize: 10 } },
      yAxis: { type: "value", min: 0, ...(unit ? { max: 1 } : {}) },
      series: [
        ...series.map((s) => ({ name: s.name, type: "bar", data: s.bars.map((b) => Number(b.value.toFixed(4))), barMaxWidth: MAX_BAR })),
        ...series.map((s, i) => ({
          type: "custom",
          name: s.name,
          data: s.bars.map((b, c) => [c, b.ci95?.[0] ?? b.value, b.ci95?.[1] ?? b.value]),
          renderItem: (
            _: unknown,
            api: { value: (i: number) => number; coord: (p: number[]) => number[]; size: (p: number[]) => number[] },
          ) => {
            const band = api.size([1, 0])[0] as number;
            const dx = offset(i, band);
            const low = api.coord([api.value(0), api.value(1)]) as [number, number];
            const high = api.coord([api.value(0), api.value(2)]) as [number, number];
            const x = low[0] + (k > 1 ? dx : 0);
            const style = { stroke: "#222", lineWidth: 1.5 };
            return {
              type: "group",
              children: [
                { type: "line", shape: { x1: x, y1: low[1], x2: x, y2: high[1] }, style },
                { type: "line", shape: { x1: x - 5, y1: low[1], x2: x + 5, y2: low[1] }, style },
                { type: "line", shape: { x1: x - 5, y1: high[1], x2: x + 5, y2: high[1] }, style },
              ],
            };
          },
          z: 10,
        })),
      ],
    },
    Math.min(960, 160 + 70 * categories.length * Math.max(1, k * 0.75)),
    k > 1 ? 320 : 300,
  );
}

export type Breakdown = { path: string[]; groups: ({ name: string } & Figure)[] };

/** Every per-group breakdown of a summary (per tag, XSTest type, category, principle), with where it sits. */
export function breakdowns(obj: Record<string, unknown>, path: string[] = []): Breakdown[] {
  const out: Breakdown[] = [];
  for (const [key, value] of Object.entries(obj)) {
    if (!isObject(value) || BOOKKEEPING.has(key) || asFigure(value)) continue;
    const entries = Object.entries(value).map(([name, v]) => ({ name, figure: asFigure(v) }));
    if (entries.length > 0 && entries.every((e) => e.figure))
      out.push({ path: [...path, key], groups: entries.map((e) => ({ name: e.name, ...(e.figure as Figure) })) });
    else out.push(...breakdowns(value, [...path, key]));
  }
  return out;
}

/** Figures and per-group tables of one summary object; nested parts (XSTest's safe/unsafe, a judge's figures) get their own heading. */
function figuresHtml(obj: Record<string, unknown>, heading: string, level: number): string {
  const main = VALUE_KEYS.find((k) => typeof obj[k] === "number");
  const rows: string[][] = [];
  const parts: string[] = [];
  for (const [key, value] of Object.entries(obj)) {
    if (BOOKKEEPING.has(key) || isInterval(value) || key === "mode" || key === "classifier") continue;
    if (typeof value === "number") {
      rows.push([key, num(value), ci(intervalOf(obj, key, main))]);
      continue;
    }
    const single = asFigure(value);
    if (single) {
      rows.push([key, num(single.value), ci(single.ci95)]);
      continue;
    }
    if (!isObject(value)) {
      if (typeof value === "string") rows.push([key, value, ""]);
      continue;
    }
    const entries = Object.entries(value).map(([name, v]) => ({ name, figure: asFigure(v) }));
    if (entries.length > 0 && entries.every((e) => e.figure)) {
      // A group with no items here (an XSTest type that has only unsafe prompts, in the safe table) says nothing.
      const groups = entries.map((e) => ({ name: e.name, ...(e.figure as Figure) })).filter((g) => g.n !== 0);
      const title = [heading, key].filter(Boolean).join(" · ");
      parts.push(
        `<div class="groups" data-group="${escapeHtml(key)}"><h${level + 1}>${escapeHtml(title)}</h${level + 1}>${table(
          ["group", "n", "value", "95% CI"],
          groups.map((g) => [g.name, g.n === undefined ? "" : String(g.n), num(g.value), ci(g.ci95)]),
        )}${intervalChart(
          title,
          groups.map((g) => g.name),
          [{ name: "rate", bars: groups }],
        )}</div>`,
      );
    } else parts.push(figuresHtml(value, [heading, key].filter(Boolean).join(" · "), level + 1));
  }
  const n =
    typeof obj.n === "number" ? `<p class="n">n = ${obj.n}${typeof obj.skipped === "number" ? `, skipped ${obj.skipped}` : ""}</p>` : "";
  const own = rows.length > 0 ? table(["figure", "value", "95% CI"], rows, "figures") : "";
  return `<div class="part">${heading ? `<h${level}>${escapeHtml(heading)}</h${level}>` : ""}${n}${own}${parts.join("")}</div>`;
}

/** The text of a result row's response and prompt, where the suite stored them. */
function transcriptOf(row: ResultRow): { prompt?: string; response: string; note: string } | null {
  const d = row.details ?? {};
  const judged = isObject(d.judged) ? d.judged : undefined;
  const response = typeof d.response === "string" ? d.response : typeof judged?.response === "string" ? judged.response : null;
  if (response === null) return null;
  const prompt = typeof d.prompt === "string" ? d.prompt : undefined;
  const outcomes = Object.entries(row.outcomes)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const cls = typeof d.class === "string" ? `${d.class}; ` : "";
  return { ...(prompt !== undefined ? { prompt } : {}), response, note: `${cls}${outcomes}` };
}

function transcriptsHtml(rows: ResultRow[], samples: number): string {
  const shown = rows.flatMap((r) => {
    const t = transcriptOf(r);
    return t ? [{ key: r.key, ...t }] : [];
  });
  if (shown.length === 0) return "";
  // Empty responses first among the samples: they are what a reader must not miss.
  const picked = [...shown.filter((t) => t.response.trim() === ""), ...shown.filter((t) => t.response.trim() !== "")].slice(0, samples);
  return `<h3>Sample transcripts (${picked.length} of ${shown.length})</h3>${picked
    .map(
      (t) =>
        `<div class="sample"><div class="key">${escapeHtml(t.key)} <span class="note">${escapeHtml(t.note)}</span></div>${
          t.prompt !== undefined ? `<div class="prompt">${escapeHtml(t.prompt)}</div>` : ""
        }<div class="response">${t.response.trim() === "" ? '<span class="empty">(empty)</span>' : escapeHtml(t.response)}</div></div>`,
    )
    .join("")}`;
}

export function renderEvalReport(summary: EvalSummary, results: Record<string, ResultRow[]>, options: { samples?: number } = {}): string {
  const samples = options.samples ?? 6;
  const sections = Object.entries(summary.suites).map(([name, s]) => {
    const skipped = Object.entries(s.skipReasons ?? {});
    return `<section class="suite" id="suite-${escapeHtml(name)}" data-suite="${escapeHtml(name)}">
<h2>${escapeHtml(name)} <code>${escapeHtml(s.spec)}</code></h2>
${skipped.length > 0 ? `<p class="skipped">Skipped: ${skipped.map(([why, k]) => `${k} × ${escapeHtml(why)}`).join("; ")}</p>` : ""}
${figuresHtml(s as Record<string, unknown>, "", 3)}
${transcriptsHtml(results[name] ?? [], samples)}
</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Precept evaluation: ${escapeHtml(summary.model)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.6em 0}th,td{border:1px solid #ccc;padding:3px 9px;text-align:right}th:first-child,td:first-child{text-align:left}
section.suite{border-top:2px solid #ddd;margin-top:1.5em}.sample{border:1px solid #ddd;border-radius:6px;padding:8px;margin:8px 0}
.prompt{color:#333;margin:4px 0;white-space:pre-wrap}.response{white-space:pre-wrap;border-left:3px solid #5470c6;padding-left:8px}
.empty{color:#b00;font-style:italic}.note,.key{color:#666;font-size:0.85em}
</style></head><body>
<h1>Evaluation of <code>${escapeHtml(summary.model)}</code></h1>
<p>${summary.judge ? `Judge <code>${escapeHtml(summary.judge)}</code>. ` : ""}${summary.ref ? `Reference <code>${escapeHtml(summary.ref)}</code>. ` : ""}
Generated ${escapeHtml(summary.generatedAt)}. Rates carry Wilson 95% intervals; means and differences seeded bootstrap 95% intervals.</p>
<nav>${Object.keys(summary.suites)
    .map((n) => `<a href="#suite-${escapeHtml(n)}">${escapeHtml(n)}</a>`)
    .join(" · ")}</nav>
${sections.join("\n")}
</body></html>
`;
}
