/**
 * The SQLite engine (better-sqlite3 12), the embedded default: one file, WAL
 * mode so readers do not block the writer, and a busy timeout so several
 * processes can share the file. Claims run in `BEGIN IMMEDIATE` transactions,
 * which take the write lock up front, so two workers never claim one item.
 */
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations.js";
import {
  emptyCounts,
  type NewRecord,
  type NewWorkItem,
  type RecordKind,
  recordValues,
  type Store,
  type StoredRecord,
  toStoredRecord,
  toWorkItem,
  type WorkItem,
  type WorkStatus,
} from "./store.js";

export class SqliteStore implements Store {
  readonly dialect = "sqlite" as const;
  readonly #db: Database.Database;

  constructor(readonly path: string) {
    try {
      this.#db = new Database(path);
    } catch (error) {
      throw new Error(`cannot open the SQLite store ${path}: ${(error as Error).message}`);
    }
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("busy_timeout = 10000");
    this.#db.pragma("synchronous = NORMAL");
  }

  async migrate(): Promise<void> {
    this.#db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    );
    const applied = new Set(
      this.#db
        .prepare("SELECT version FROM schema_migrations")
        .all()
        .map((r) => (r as { version: number }).version),
    );
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      this.#db
        .transaction(() => {
          this.#db.exec(migration.sqlite);
          this.#db
            .prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
            .run(migration.version, migration.name, Date.now());
        })
        .immediate();
    }
  }

  async enqueue(runId: string, items: NewWorkItem[]): Promise<number> {
    const insert = this.#db.prepare(
      "INSERT INTO work_items (run_id, key, kind, payload, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO NOTHING",
    );
    return this.#db
      .transaction(() => {
        let added = 0;
        const now = Date.now();
        for (const item of items) added += insert.run(runId, item.key, item.kind, JSON.stringify(item.payload ?? null), now, now).changes;
        return added;
      })
      .immediate();
  }

  async claim(runId: string, worker: string, { limit, leaseMs }: { limit: number; leaseMs: number }): Promise<WorkItem[]> {
    return this.#db
      .transaction(() => {
        const now = Date.now();
        const rows = this.#db
          .prepare(
            `SELECT id FROM work_items WHERE run_id = ? AND (status = 'pending' OR (status = 'claimed' AND claim_expires_at < ?)) ORDER BY id LIMIT ?`,
          )
          .all(runId, now, limit) as { id: number }[];
        const update = this.#db.prepare(
          "UPDATE work_items SET status = 'claimed', claimed_by = ?, claim_expires_at = ?, attempts = attempts + 1, updated_at = ? WHERE id = ? RETURNING *",
        );
        return rows.map(({ id }) => toWorkItem(update.get(worker, now + leaseMs, now, id) as Record<string, unknown>, true));
      })
      .immediate();
  }

  async complete(id: number, worker: string, result: unknown): Promise<boolean> {
    const changes = this.#db
      .prepare(
        "UPDATE work_items SET status = 'done', result = ?, claimed_by = NULL, claim_expires_at = NULL, updated_at = ? WHERE id = ? AND status = 'claimed' AND claimed_by = ?",
      )
      .run(JSON.stringify(result ?? null), Date.now(), id, worker).changes;
    return changes === 1;
  }

  async release(id: number, worker: string, error?: string, maxAttempts = Number.POSITIVE_INFINITY): Promise<boolean> {
    const changes = this.#db
      .prepare(
        `UPDATE work_items SET status = CASE WHEN attempts >= ? THEN 'failed' ELSE 'pending' END, error = ?, claimed_by = NULL, claim_expires_at = NULL, updated_at = ?
         WHERE id = ? AND status = 'claimed' AND claimed_by = ?`,
      )
      .run(Number.isFinite(maxAttempts) ? maxAttempts : 2 ** 31, error ?? null, Date.now(), id, worker).changes;
    return changes === 1;
  }

  async counts(runId: string): Promise<Record<WorkStatus, number>> {
    const counts = emptyCounts();
    for (const row of this.#db.prepare("SELECT status, COUNT(*) AS n FROM work_items WHERE run_id = ? GROUP BY status").all(runId) as {
      status: WorkStatus;
      n: number;
    }[]) {
      counts[row.status] = row.n;
    }
    return counts;
  }

  async items(runId: string): Promise<WorkItem[]> {
    const rows = this.#db.prepare("SELECT * FROM work_items WHERE run_id = ? ORDER BY id").all(runId) as Record<string, unknown>[];
    return rows.map((row) => toWorkItem(row, true));
  }

  async putRun(id: string, kind: string, config: unknown): Promise<void> {
    this.#db
      .prepare("INSERT INTO runs (id, kind, config, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
      .run(id, kind, JSON.stringify(config ?? null), Date.now());
  }

  async putConstitution(hash: string, name: string, version: string | null, content: unknown): Promise<void> {
    this.#db
      .prepare("INSERT INTO constitutions (hash, name, version, content, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING")
      .run(hash, name, version, JSON.stringify(content), Date.now());
  }

  async constitution(hash: string) {
    const row = this.#db.prepare("SELECT * FROM constitutions WHERE hash = ?").get(hash) as Record<string, unknown> | undefined;
    return row
      ? { hash, name: String(row.name), version: (row.version as string | null) ?? null, content: JSON.parse(row.content as string) }
      : null;
  }

  async addRecords(runId: string, records: NewRecord[]): Promise<number[]> {
    const insert = this.#db.prepare(
      `INSERT INTO records (run_id, kind, key, parent_id, data, constitution_hash, principle_id, model_id, sampling, seed, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, kind, key) DO NOTHING`,
    );
    const existing = this.#db.prepare("SELECT id FROM records WHERE run_id = ? AND kind = ? AND key = ?");
    return this.#db
      .transaction(() => {
        const now = Date.now();
        return records.map((record) => {
          insert.run(...recordValues(runId, record, now));
          return (existing.get(runId, record.kind, record.key) as { id: number }).id;
        });
      })
      .immediate();
  }

  async records(runId: string, kind?: RecordKind): Promise<StoredRecord[]> {
    const rows = kind
      ? this.#db.prepare("SELECT * FROM records WHERE run_id = ? AND kind = ? ORDER BY id").all(runId, kind)
      : this.#db.prepare("SELECT * FROM records WHERE run_id = ? ORDER BY id").all(runId);
    return (rows as Record<string, unknown>[]).map((row) => toStoredRecord(row, true));
  }

  async principleCounts(constitutionHash: string): Promise<Record<string, number>> {
    const rows = this.#db
      .prepare(
        "SELECT principle_id, COUNT(*) AS n FROM records WHERE constitution_hash = ? AND principle_id IS NOT NULL GROUP BY principle_id",
      )
      .all(constitutionHash) as { principle_id: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.principle_id, r.n]));
  }

  async addMetrics(runId: string, step: number, data: Record<string, number>): Promise<void> {
    this.#db
      .prepare("INSERT INTO metrics (run_id, step, data, created_at) VALUES (?, ?, ?, ?)")
      .run(runId, step, JSON.stringify(data), Date.now());
  }

  async metrics(runId: string) {
    const rows = this.#db.prepare("SELECT step, data FROM metrics WHERE run_id = ? ORDER BY step, id").all(runId) as {
      step: number;
      data: string;
    }[];
    return rows.map((row) => ({ step: row.step, data: JSON.parse(row.data) as Record<string, number> }));
  }

  async cacheGet(key: string): Promise<unknown | undefined> {
    const row = this.#db.prepare("SELECT value FROM provider_cache WHERE key = ?").get(key) as { value: string } | undefined;
    return row ? JSON.parse(row.value) : undefined;
  }

  async cacheSet(key: string, value: unknown): Promise<void> {
    this.#db
      .prepare("INSERT INTO provider_cache (key, value, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING")
      .run(key, JSON.stringify(value), Date.now());
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
