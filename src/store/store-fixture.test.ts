/**
 * A `precept.db` written by the previous, hand-written SQLite store (schema
 * version 5; see test/fixtures/store/make-fixture.ts) opens with the current
 * store and migrates with nothing lost: every table keeps every row as it
 * was, and the store API reads back exactly what the old code read.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { fill, readAll } from "../../test/fixtures/store/make-fixture.js";
import { storeEngines } from "../../test/helpers/store-engines.js";
import { openStore } from "./store.js";

const fixture = fileURLToPath(new URL("../../test/fixtures/store/precept-v5.db", import.meta.url));
const expected = JSON.parse(readFileSync(fixture.replace(/\.db$/, ".expected.json"), "utf8"));
const tmp = mkdtempSync(join(tmpdir(), "precept-store-fixture-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const { engines } = storeEngines("precept-store-engines-");

/** Times (ms since 1970) differ from run to run; what a field holds (a time or null) must not. */
function withoutTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimes);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, /At$/.test(k) ? (v === null ? null : typeof v) : withoutTimes(v)]));
}

/** Every row of every table, in rowid order, as SQLite holds it. */
function dump(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
    return Object.fromEntries(tables.map(({ name }) => [name, db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all()]));
  } finally {
    db.close();
  }
}

describe("a store file from the previous store (schema v5)", () => {
  it("opens, migrates and reads back every row unchanged; new rows follow the old ones", async () => {
    const bytes = readFileSync(fixture);
    const path = join(tmp, "precept.db");
    copyFileSync(fixture, path);
    const before = dump(path);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(["records", "work_items", "answers", "assignments", "provider_cache"]));
    expect(before.records).toHaveLength(9);
    expect(before.answers).toHaveLength(5);

    const store = await openStore(path);
    await store.migrate(); // again: nothing to do
    expect(await readAll(store)).toEqual(expected);

    // The file goes on working: ids continue after the old rows, an old claim is still held, old answers count.
    const [id] = await store.addRecords("cai-1", [{ kind: "prompt", key: "p3", data: { prompt: "new" } }]);
    expect(id).toBe(10);
    expect(await store.addRecords("cai-1", [{ kind: "prompt", key: "p1", data: {} }])).toEqual([1]);
    expect(await store.claim("work-1", "new-worker", { limit: 10, leaseMs: 60_000 })).toHaveLength(2); // only the 2 pending
    const alice = await store.annotatorByTokenHash("hash-alice");
    expect(alice?.name).toBe("alice");
    const campaign = (await store.campaigns())[0];
    const next = await store.nextAssignment(campaign?.id as number, alice?.id as number, { overlap: 2, order: () => [0, 1] });
    expect(next?.item.key).toBe("item-3"); // items 0 and 2 answered, 1 skipped: the last one is hers
    await store.close();

    const after = dump(path);
    for (const [table, rows] of Object.entries(before)) {
      if (table === "schema_migrations" || table === "sqlite_sequence") continue;
      // Old rows unchanged (new ones come after them), except the two work items claimed just now.
      const changed = table === "work_items" ? [5, 6] : [];
      expect(
        after[table]?.slice(0, rows.length).filter((_, i) => !changed.includes(i)),
        table,
      ).toEqual(rows.filter((_, i) => !changed.includes(i)));
    }
    const versions = (after.schema_migrations as { version: number }[]).map((m) => m.version);
    expect(versions.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    // The committed fixture itself was not touched (it is only ever opened as a copy: even a read-only
    // open of a WAL file leaves -shm and -wal files beside it).
    expect(readFileSync(fixture).equals(bytes)).toBe(true);
  });
});

describe.each(engines)("the %s store, given the writes that made the fixture", (_name, location) => {
  it("reads back what the previous SQLite store read back (times aside)", async () => {
    const store = await openStore(location());
    try {
      await fill(store);
      expect(withoutTimes(await readAll(store))).toEqual(withoutTimes(expected));
    } finally {
      await store.close();
    }
  });
});
