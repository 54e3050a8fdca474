/** Rates of binary outcomes over results, overall and per group, each with its Wilson 95% interval. */
import { type Rate, rate } from "./stats.js";
import type { ResultRow } from "./suite.js";

/** The rate of `outcome` among the rows it applies to (and that pass `where`). */
export function outcomeRate(rows: ResultRow[], outcome: string, where: (row: ResultRow) => boolean = () => true): Rate {
  let k = 0;
  let n = 0;
  for (const row of rows) {
    const value = row.outcomes[outcome];
    if (value === undefined || !where(row)) continue;
    n++;
    k += value;
  }
  return rate(k, n);
}

/** The rate of `outcome` in each value of group `group`, values in sorted order. */
export function rateByGroup(
  rows: ResultRow[],
  outcome: string,
  group: string,
  where: (row: ResultRow) => boolean = () => true,
): Record<string, Rate> {
  const values = [...new Set(rows.flatMap((r) => (r.groups?.[group] === undefined ? [] : [r.groups[group] as string])))].sort();
  return Object.fromEntries(values.map((v) => [v, outcomeRate(rows, outcome, (r) => r.groups?.[group] === v && where(r))]));
}
