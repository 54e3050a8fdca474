/**
 * `precept eval compare DIR_A DIR_B`: two evaluations (two models) on the same
 * items. For every suite in both and every binary outcome, items scored in
 * both are paired by key: McNemar's exact test on the discordant pairs, and a
 * seeded paired bootstrap interval of the difference (B − A). A difference is
 * called significant when McNemar's p < 0.05.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { EvalSummary } from "./run.js";
import { type Difference, type McNemar, mcnemar, pairedBootstrap } from "./stats.js";
import type { ResultRow } from "./suite.js";

export type OutcomeComparison = { n: number; a: number; b: number; difference: Difference; mcnemar: McNemar; significant: boolean };
export type Comparison = { a: string; b: string; suites: Record<string, Record<string, OutcomeComparison>> };

function readRun(dir: string): { summary: EvalSummary; rows: (suite: string) => Map<string, ResultRow> } {
  const path = join(dir, "summary.json");
  if (!existsSync(path)) throw new Error(`${dir}: no summary.json (give the --out folder of a finished precept eval run)`);
  const summary = JSON.parse(readFileSync(path, "utf8")) as EvalSummary;
  return {
    summary,
    rows: (suite) => {
      const file = join(dir, summary.suites[suite]?.results ?? `${suite}.jsonl`);
      const rows = readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as ResultRow);
      return new Map(rows.filter((r) => !r.skipped).map((r) => [r.key, r]));
    },
  };
}

export function compareRuns(dirA: string, dirB: string, options: { seed?: number; alpha?: number } = {}): Comparison {
  const alpha = options.alpha ?? 0.05;
  const A = readRun(dirA);
  const B = readRun(dirB);
  const out: Comparison = { a: A.summary.model, b: B.summary.model, suites: {} };
  for (const suite of Object.keys(A.summary.suites).filter((s) => s in B.summary.suites)) {
    const ra = A.rows(suite);
    const rb = B.rows(suite);
    const outcomes = new Set([...ra.values()].flatMap((r) => Object.keys(r.outcomes)));
    const perOutcome: Record<string, OutcomeComparison> = {};
    for (const outcome of [...outcomes].sort()) {
      const a: number[] = [];
      const b: number[] = [];
      for (const [key, row] of ra) {
        const x = row.outcomes[outcome];
        const y = rb.get(key)?.outcomes[outcome];
        if (x === undefined || y === undefined) continue;
        a.push(x);
        b.push(y);
      }
      if (a.length === 0) continue;
      const test = mcnemar(a, b);
      const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
      perOutcome[outcome] = {
        n: a.length,
        a: mean(a),
        b: mean(b),
        difference: pairedBootstrap(a, b, { seed: options.seed ?? 0 }),
        mcnemar: test,
        significant: test.p < alpha,
      };
    }
    out.suites[suite] = perOutcome;
  }
  return out;
}

/** The comparison as lines for the terminal. */
export function comparisonLines(c: Comparison): string[] {
  const lines = [`A: ${c.a}`, `B: ${c.b}`];
  for (const [suite, outcomes] of Object.entries(c.suites))
    for (const [name, o] of Object.entries(outcomes))
      lines.push(
        `${suite} ${name}: A ${o.a.toFixed(3)}, B ${o.b.toFixed(3)}, B − A ${o.difference.diff.toFixed(3)} [${o.difference.ci95.map((x) => x.toFixed(3)).join(", ")}] over ${o.n} paired items; McNemar p = ${o.mcnemar.p.toPrecision(3)} (${o.mcnemar.aOnly} vs ${o.mcnemar.bOnly} discordant): ${o.significant ? "significant" : "not significant"} at 0.05`,
      );
  return lines;
}
