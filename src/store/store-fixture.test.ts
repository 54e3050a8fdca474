/**
 * A `precept.db` written by the previous, hand-written SQLite store (schema
 * version 5; see test/fixtures/store/make-fixture.ts) opens with the current
 * store and migrates with nothing lost: every table keeps every row as it
 * was, and the store API reads back exactly what the old code read. And a
 * store at an older schema (v3), with rows, is brought to the latest by the
 * versioned migrations, once, on both engines.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { fill, readAll } from "../../test/fixtures/store/make-fixture.js";
import { storeEngines } from "../../test/helpers/store-engines.js";
import { MIGRATIONS } from "./migrations.js";
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

/** A fresh database of `location`'s engine: its location and a connection of its own that runs SQL on it directly. */
async function freshDatabase(location: string) {
  if (!location.startsWith("postgres")) {
    const db = new Database(location);
    return {
      location,
      exec: async (text: string) => void db.exec(text),
      rows: async (text: string) => db.prepare(text).all(),
      end: async () => db.close(),
    };
  }
  const name = `v3_${Math.random().toString(36).slice(2)}`;
  const admin = new pg.Client({ connectionString: location });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = location.replace(/\/[^/]+$/, `/${name}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    location: url,
    exec: async (text: string) => void (await client.query(text)),
    rows: async (text: string) => (await client.query(text)).rows,
    end: () => client.end(),
  };
}

describe.each(engines)("a %s store at schema v3", (_name, location) => {
  it("migrates to the latest version once (two opening at once), keeping its rows", async () => {
    const old = await freshDatabase(location());
    const dialect = old.location.startsWith("postgres") ? "postgres" : "sqlite";
    await old.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
    for (const migration of MIGRATIONS.slice(0, 3)) {
      await old.exec(migration[dialect]);
      await old.exec(`INSERT INTO schema_migrations VALUES (${migration.version}, '${migration.name}', 1)`);
    }
    await old.exec(`INSERT INTO work_items (run_id, key, kind, payload, status, claimed_by, claim_expires_at, attempts, created_at, updated_at)
      VALUES ('r', 'k', 'generate', '{"prompt":"p"}', 'claimed', 'w', 9999999999999, 1, 5, 6)`);
    await old.exec(`INSERT INTO annotators (name, token_hash, created_at) VALUES ('ann', 'h', 7)`);

    const [a, b] = await Promise.all([openStore(old.location), openStore(old.location)]);
    await b.close();
    expect(await a.items("r")).toEqual([
      {
        id: 1,
        runId: "r",
        key: "k",
        kind: "generate",
        payload: { prompt: "p" },
        status: "claimed",
        claimedBy: "w",
        claimExpiresAt: 9999999999999,
        attempts: 1,
        result: null,
        error: null,
      },
    ]);
    // The columns of migrations 4 and 5 are there, empty for the old rows, and work.
    expect(await a.claimers("r")).toEqual([{ worker: "w", host: null, pid: null, items: 1 }]);
    expect(await a.annotatorByTokenHash("h")).toEqual({ id: 1, name: "ann", createdAt: 7, revokedAt: null });
    await a.revokeAnnotator(1);
    expect((await a.annotators())[0]?.revokedAt).toBeGreaterThan(0);
    await a.close();
    // Each version applied once, the old ones left as they were.
    const applied = await old.rows("SELECT version, applied_at FROM schema_migrations ORDER BY version");
    expect(applied.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
    expect(applied.slice(0, 3).map((r) => Number(r.applied_at))).toEqual([1, 1, 1]);
    await old.end();
  });
});
