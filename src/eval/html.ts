/** Small HTML pieces shared by the evaluation reports: escaping, numbers with intervals, tables. */
import type { Interval } from "./stats.js";

export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

/** Three decimals (one from 100 up); "–" for what is not a number. */
export const num = (x: number) => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3)) : "–");
export const ci = (x?: Interval) => (x ? `[${num(x[0])}, ${num(x[1])}]` : "");

export function table(head: string[], rows: string[][], className = ""): string {
  return `<table${className ? ` class="${className}"` : ""}><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}
