/**
 * Benchmark CSV files (XSTest, AdvBench, HarmBench) through `csv-parse`:
 * a header row, quoted fields that may span lines; plain or gzipped. Each
 * row keeps the line it starts on, so errors name `file:line`.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { parse } from "csv-parse/sync";
import { DatasetError } from "../data/files.js";

export type CsvRow = { row: Record<string, string>; line: number };

export function readCsv(path: string, required: string[] = []): { columns: string[]; rows: CsvRow[] } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new DatasetError(`${path}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
  const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString("utf8");
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { columns: true, bom: true, skip_empty_lines: true, info: true, trim: false });
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    throw new DatasetError(`${path}${line ? `:${line}` : ""}: bad CSV: ${(error as Error).message}`);
  }
  if (records.length === 0) throw new DatasetError(`${path}: no rows (the file is empty or has only a header)`);
  const columns = Object.keys(records[0]?.record ?? {});
  const missing = required.filter((c) => !columns.includes(c));
  if (missing.length > 0)
    throw new DatasetError(
      `${path}:1: the header lacks column(s) ${missing.map((c) => `"${c}"`).join(", ")}; it has ${columns.join(", ")}`,
    );
  // csv-parse counts lines up to the end of a record; a record starts after the previous one ended.
  let previousEnd = 1;
  const rows = records.map(({ record, info }) => {
    const start = previousEnd + 1;
    previousEnd = info.lines;
    return { row: record, line: start };
  });
  return { columns, rows };
}
