/** Shared by the file-based suites: a content hash (part of a run's identity) and duplicate-key checks. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { DatasetError } from "../../data/files.js";

export function fileHash(path: string): string {
  try {
    return createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16);
  } catch (error) {
    throw new DatasetError(`${path}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
}

/** Keys must be unique: a duplicate id would silently share one stored result. */
export function uniqueKeys<T extends { key: string; where: string }>(items: T[]): T[] {
  const seen = new Map<string, string>();
  for (const item of items) {
    const first = seen.get(item.key);
    if (first !== undefined) throw new DatasetError(`${item.where}: id "${item.key}" is also used at ${first}`);
    seen.set(item.key, item.where);
  }
  return items;
}

/** The last path segment without its extensions (for suite names). */
export const baseName = (path: string) => (path.split("/").pop() ?? path).replace(/\.(jsonl|csv|json|parquet)(\.gz)?$/, "");
