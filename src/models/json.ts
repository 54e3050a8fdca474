import { readFileSync } from "node:fs";

/** Reads a JSON file; a missing file or bad JSON is an error naming the file. */
export function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new Error(`${path} is missing`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: bad JSON: ${(error as Error).message}`);
  }
}
