/** The two store engines a test file runs its cases on, with the hooks that start and stop PostgreSQL. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { startPostgres } from "./postgres.js";

/**
 * SQLite (a fresh file per call) and a real PostgreSQL server that this
 * file's hooks start before its tests and stop after them; `tmp` is the
 * file's scratch directory, removed at the end.
 */
export function storeEngines(prefix: string): { tmp: string; engines: [string, () => string][] } {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  let postgres: { url: string; stop: () => Promise<void> } | undefined;
  beforeAll(async () => {
    postgres = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await postgres?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });
  return {
    tmp,
    engines: [
      ["SQLite", () => join(tmp, `store-${Math.random().toString(36).slice(2)}.db`)],
      ["PostgreSQL", () => (postgres as { url: string }).url],
    ],
  };
}
