/**
 * Rows of a benchmark file, whatever it was published as: CSV, JSONL
 * (`.jsonl`, `.jsonl.gz`) or Parquet. Each row keeps where it came from
 * (`FILE:LINE` for text files, `FILE row N` for Parquet), so an error names
 * it, and a default item key (`line-N`, `row-N`) for files without ids.
 */
import type { z } from "zod";
import { readJsonlLines } from "../../data/dataset.js";
import { DatasetError, readLines } from "../../data/files.js";
import { readCsv } from "../csv.js";
import { isParquet, readParquet } from "../parquet.js";

export type TableRow = { row: Record<string, string>; line: number; where: string; key: string };

export const isJsonl = (path: string) => /\.jsonl(\.gz)?$/i.test(path);

const atLine = (path: string, line: number) => ({ line, where: `${path}:${line}`, key: `line-${line}` });
const atRow = (path: string, row: number) => ({ line: row, where: `${path} row ${row}`, key: `row-${row}` });

/** Field values as text (what CSV gives), so one loader serves all three formats. */
function asText(value: Record<string, unknown>): Record<string, string> {
  const row: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) row[k] = typeof v === "string" ? v : JSON.stringify(v);
  return row;
}

/** Rows as field → text; `required` fields must be present in every row. */
export async function readTable(path: string, required: string[] = []): Promise<{ columns: string[]; rows: TableRow[] }> {
  if (isParquet(path)) {
    const rows = (await readParquet(path)).map((value, i) => ({ row: asText(value), ...atRow(path, i + 1) }));
    if (rows.length === 0) throw new DatasetError(`${path}: no rows (the Parquet file is empty)`);
    for (const r of rows)
      for (const f of required) if (r.row[f] === undefined) throw new DatasetError(`${r.where}: field "${f}" is missing`);
    return { columns: [...new Set(rows.flatMap((r) => Object.keys(r.row)))], rows };
  }
  if (!isJsonl(path)) {
    const { columns, rows } = readCsv(path, required);
    return { columns, rows: rows.map((r) => ({ row: r.row, ...atLine(path, r.line) })) };
  }
  const rows: TableRow[] = [];
  for await (const { text, line } of readLines(path)) {
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new DatasetError(`${path}:${line}: bad JSON: ${(error as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new DatasetError(`${path}:${line}: expected a JSON object`);
    const row = asText(value as Record<string, unknown>);
    for (const field of required) if (row[field] === undefined) throw new DatasetError(`${path}:${line}: field "${field}" is missing`);
    rows.push({ row, ...atLine(path, line) });
  }
  if (rows.length === 0) throw new DatasetError(`${path}: no rows (the file is empty)`);
  return { columns: Object.keys(rows[0]?.row ?? {}), rows };
}

export type CheckedRow<T> = { row: T; line: number; where: string; key: string };

/**
 * Rows checked against a schema (the trainers' row schemas, `mc`'s): JSONL by
 * the trainers' own reader, Parquet row by row with the same checks. The first
 * bad row is an error naming it and its field.
 */
export async function readRecords<S extends z.ZodType>(path: string, schema: S): Promise<CheckedRow<z.output<S>>[]> {
  if (!isParquet(path)) return (await readJsonlLines(path, schema)).map(({ row, line }) => ({ row, ...atLine(path, line) }));
  const values = await readParquet(path);
  if (values.length === 0) throw new DatasetError(`${path}: no rows (the Parquet file is empty)`);
  return values.map((value, i) => {
    const at = atRow(path, i + 1);
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0] as z.core.$ZodIssue;
      const field = issue.path.length > 0 ? `field "${issue.path.join(".")}": ` : "";
      throw new DatasetError(`${at.where}: ${field}${issue.message} (columns: ${Object.keys(value).join(", ")})`);
    }
    return { row: parsed.data, ...at };
  });
}

/** A required non-empty text field, or an error naming the file, line and field. */
export function field(r: TableRow, name: string): string {
  const value = r.row[name];
  if (value === undefined || value.trim() === "") throw new DatasetError(`${r.where}: field "${name}" is empty`);
  return value;
}
