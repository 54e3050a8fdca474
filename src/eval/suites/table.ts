/** Rows of a benchmark file as field → text, from CSV or JSONL (`.jsonl`, `.jsonl.gz`), each with its line. */
import { DatasetError, readLines } from "../../data/files.js";
import { readCsv } from "../csv.js";

export type TableRow = { row: Record<string, string>; line: number };

export const isJsonl = (path: string) => /\.jsonl(\.gz)?$/i.test(path);

export async function readTable(path: string, required: string[] = []): Promise<{ columns: string[]; rows: TableRow[] }> {
  if (!isJsonl(path)) return readCsv(path, required);
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
    const row: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) row[k] = typeof v === "string" ? v : JSON.stringify(v);
    for (const field of required) if (row[field] === undefined) throw new DatasetError(`${path}:${line}: field "${field}" is missing`);
    rows.push({ row, line });
  }
  if (rows.length === 0) throw new DatasetError(`${path}: no rows (the file is empty)`);
  return { columns: Object.keys(rows[0]?.row ?? {}), rows };
}

/** A required non-empty text field, or an error naming the file, line and field. */
export function field(path: string, r: TableRow, name: string): string {
  const value = r.row[name];
  if (value === undefined || value.trim() === "") throw new DatasetError(`${path}:${r.line}: field "${name}" is empty`);
  return value;
}
