/**
 * Parquet files (the format Hugging Face datasets are published in) as JSON
 * rows, through `hyparquet` (pure JS; snappy built in, as the Hub writes them).
 * Values become what JSON would hold: INT64 as numbers, dates as ISO text,
 * nested lists and structs as arrays and objects; a null column value is left
 * out of its row, as an absent JSONL field would be.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { asyncBufferFromFile, parquetReadObjects, toJson } from "hyparquet";
import { DatasetError } from "../data/files.js";

/** A Parquet file starts and ends with the magic bytes "PAR1". */
export function isParquet(path: string): boolean {
  if (/\.parquet$/i.test(path)) return true;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString("latin1") === "PAR1";
  } finally {
    closeSync(fd);
  }
}

/** Every row of a Parquet file, in order; row numbers in errors count from 1. */
export async function readParquet(path: string): Promise<Record<string, unknown>[]> {
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file: await asyncBufferFromFile(path) });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new DatasetError(`${path}: no such file`);
    throw new DatasetError(
      `${path}: not a readable Parquet file (${(error as Error).message}); check that the download is complete, or convert the file to JSONL`,
    );
  }
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(toJson(row) as Record<string, unknown>)) if (value !== null) out[key] = value;
    return out;
  });
}
