/**
 * The PostgreSQL engine (`pg`), for teams and many workers on many machines.
 * Claims use `FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint
 * items without waiting on each other; migrations take an advisory lock so
 * two processes starting at once do not both apply them.
 */
import pg from "pg";
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

const MIGRATION_LOCK = 7_355_608;

export class PostgresStore implements Store {
  readonly dialect = "postgres" as const;
  readonly #pool: pg.Pool;

  constructor(readonly url: string) {
    this.#pool = new pg.Pool({ connectionString: url, max: 4 });
    // An idle client's error (e.g. the server restarting) must not crash the process; the next query reports it.
    this.#pool.on("error", () => {});
  }

  async #transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw new Error(`cannot connect to the PostgreSQL store ${redact(this.url)}: ${(error as Error).message}`);
    }
    try {
      await client.query("BEGIN");
      const result = await body(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async migrate(): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await client.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
      );
      const applied = new Set((await client.query("SELECT version FROM schema_migrations")).rows.map((r) => Number(r.version)));
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await client.query(migration.postgres);
        await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
          migration.version,
          migration.name,
          Date.now(),
        ]);
      }
    });
  }

  async enqueue(runId: string, items: NewWorkItem[]): Promise<number> {
    return this.#transaction(async (client) => {
      let added = 0;
      const now = Date.now();
      for (const item of items) {
        const result = await client.query(
          "INSERT INTO work_items (run_id, key, kind, payload, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (run_id, key) DO NOTHING",
          [runId, item.key, item.kind, JSON.stringify(item.payload ?? null), now],
        );
        added += result.rowCount ?? 0;
      }
      return added;
    });
  }

  async claim(runId: string, worker: string, { limit, leaseMs }: { limit: number; leaseMs: number }): Promise<WorkItem[]> {
    const now = Date.now();
    const { rows } = await this.#pool.query(
      `UPDATE work_items SET status = 'claimed', claimed_by = $2, claim_expires_at = $3, attempts = attempts + 1, updated_at = $4
       WHERE id IN (
         SELECT id FROM work_items
         WHERE run_id = $1 AND (status = 'pending' OR (status = 'claimed' AND claim_expires_at < $4))
         ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [runId, worker, now + leaseMs, now, limit],
    );
    return rows.map((row) => toWorkItem(row, false)).sort((a, b) => a.id - b.id);
  }

  async complete(id: number, worker: string, result: unknown): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      "UPDATE work_items SET status = 'done', result = $1, claimed_by = NULL, claim_expires_at = NULL, updated_at = $2 WHERE id = $3 AND status = 'claimed' AND claimed_by = $4",
      [JSON.stringify(result ?? null), Date.now(), id, worker],
    );
    return rowCount === 1;
  }

  async release(id: number, worker: string, error?: string, maxAttempts = Number.POSITIVE_INFINITY): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      `UPDATE work_items SET status = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'pending' END, error = $2, claimed_by = NULL, claim_expires_at = NULL, updated_at = $3
       WHERE id = $4 AND status = 'claimed' AND claimed_by = $5`,
      [Number.isFinite(maxAttempts) ? maxAttempts : 2 ** 31 - 1, error ?? null, Date.now(), id, worker],
    );
    return rowCount === 1;
  }

  async counts(runId: string): Promise<Record<WorkStatus, number>> {
    const counts = emptyCounts();
    const { rows } = await this.#pool.query("SELECT status, COUNT(*) AS n FROM work_items WHERE run_id = $1 GROUP BY status", [runId]);
    for (const row of rows) counts[row.status as WorkStatus] = Number(row.n);
    return counts;
  }

  async items(runId: string): Promise<WorkItem[]> {
    const { rows } = await this.#pool.query("SELECT * FROM work_items WHERE run_id = $1 ORDER BY id", [runId]);
    return rows.map((row) => toWorkItem(row, false));
  }

  async putRun(id: string, kind: string, config: unknown): Promise<void> {
    await this.#pool.query("INSERT INTO runs (id, kind, config, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING", [
      id,
      kind,
      JSON.stringify(config ?? null),
      Date.now(),
    ]);
  }

  async putConstitution(hash: string, name: string, version: string | null, content: unknown): Promise<void> {
    await this.#pool.query(
      "INSERT INTO constitutions (hash, name, version, content, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
      [hash, name, version, JSON.stringify(content), Date.now()],
    );
  }

  async constitution(hash: string) {
    const { rows } = await this.#pool.query("SELECT * FROM constitutions WHERE hash = $1", [hash]);
    const row = rows[0];
    return row ? { hash, name: String(row.name), version: row.version ?? null, content: row.content } : null;
  }

  async addRecords(runId: string, records: NewRecord[]): Promise<number[]> {
    return this.#transaction(async (client) => {
      const now = Date.now();
      const ids: number[] = [];
      for (const record of records) {
        await client.query(
          `INSERT INTO records (run_id, kind, key, parent_id, data, constitution_hash, principle_id, model_id, sampling, seed, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (run_id, kind, key) DO NOTHING`,
          recordValues(runId, record, now),
        );
        const { rows } = await client.query("SELECT id FROM records WHERE run_id = $1 AND kind = $2 AND key = $3", [
          runId,
          record.kind,
          record.key,
        ]);
        ids.push(Number(rows[0].id));
      }
      return ids;
    });
  }

  async records(runId: string, kind?: RecordKind): Promise<StoredRecord[]> {
    const { rows } = kind
      ? await this.#pool.query("SELECT * FROM records WHERE run_id = $1 AND kind = $2 ORDER BY id", [runId, kind])
      : await this.#pool.query("SELECT * FROM records WHERE run_id = $1 ORDER BY id", [runId]);
    return rows.map((row) => toStoredRecord(row, false));
  }

  async principleCounts(constitutionHash: string): Promise<Record<string, number>> {
    const { rows } = await this.#pool.query(
      "SELECT principle_id, COUNT(*) AS n FROM records WHERE constitution_hash = $1 AND principle_id IS NOT NULL GROUP BY principle_id",
      [constitutionHash],
    );
    return Object.fromEntries(rows.map((r) => [r.principle_id as string, Number(r.n)]));
  }

  async addMetrics(runId: string, step: number, data: Record<string, number>): Promise<void> {
    await this.#pool.query("INSERT INTO metrics (run_id, step, data, created_at) VALUES ($1, $2, $3, $4)", [
      runId,
      step,
      JSON.stringify(data),
      Date.now(),
    ]);
  }

  async metrics(runId: string) {
    const { rows } = await this.#pool.query("SELECT step, data FROM metrics WHERE run_id = $1 ORDER BY step, id", [runId]);
    return rows.map((row) => ({ step: Number(row.step), data: row.data as Record<string, number> }));
  }

  async cacheGet(key: string): Promise<unknown | undefined> {
    const { rows } = await this.#pool.query("SELECT value FROM provider_cache WHERE key = $1", [key]);
    return rows[0] ? rows[0].value : undefined;
  }

  async cacheSet(key: string, value: unknown): Promise<void> {
    await this.#pool.query("INSERT INTO provider_cache (key, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING", [
      key,
      JSON.stringify(value),
      Date.now(),
    ]);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** A connection URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
