/**
 * Schema migrations, in order, with the SQL for each engine. A database
 * records the versions it has applied in `schema_migrations`; `migrate()`
 * applies the rest in one transaction each.
 */
export type Migration = { version: number; name: string; sqlite: string; postgres: string };

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "work items",
    sqlite: `
      CREATE TABLE work_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        claimed_by TEXT,
        claim_expires_at INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        result TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (run_id, key)
      );
      CREATE INDEX work_items_claimable ON work_items (run_id, status, claim_expires_at);`,
    postgres: `
      CREATE TABLE work_items (
        id BIGSERIAL PRIMARY KEY,
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload JSONB,
        status TEXT NOT NULL DEFAULT 'pending',
        claimed_by TEXT,
        claim_expires_at BIGINT,
        attempts INTEGER NOT NULL DEFAULT 0,
        result JSONB,
        error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE (run_id, key)
      );
      CREATE INDEX work_items_claimable ON work_items (run_id, status, claim_expires_at);`,
  },
  {
    version: 2,
    name: "runs, constitutions, records with provenance, metrics, provider cache",
    sqlite: `
      CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, config TEXT, created_at INTEGER NOT NULL);
      CREATE TABLE constitutions (hash TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT, content TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        parent_id INTEGER,
        data TEXT NOT NULL,
        constitution_hash TEXT,
        principle_id TEXT,
        model_id TEXT,
        sampling TEXT,
        seed INTEGER,
        created_at INTEGER NOT NULL,
        UNIQUE (run_id, kind, key)
      );
      CREATE INDEX records_by_run ON records (run_id, kind, id);
      CREATE INDEX records_by_principle ON records (constitution_hash, principle_id);
      CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, step INTEGER NOT NULL, data TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE INDEX metrics_by_run ON metrics (run_id, step);
      CREATE TABLE provider_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, created_at INTEGER NOT NULL);`,
    postgres: `
      CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, config JSONB, created_at BIGINT NOT NULL);
      CREATE TABLE constitutions (hash TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT, content JSONB NOT NULL, created_at BIGINT NOT NULL);
      CREATE TABLE records (
        id BIGSERIAL PRIMARY KEY,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        parent_id BIGINT,
        data JSONB NOT NULL,
        constitution_hash TEXT,
        principle_id TEXT,
        model_id TEXT,
        sampling JSONB,
        seed BIGINT,
        created_at BIGINT NOT NULL,
        UNIQUE (run_id, kind, key)
      );
      CREATE INDEX records_by_run ON records (run_id, kind, id);
      CREATE INDEX records_by_principle ON records (constitution_hash, principle_id);
      CREATE TABLE metrics (id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, step INTEGER NOT NULL, data JSONB NOT NULL, created_at BIGINT NOT NULL);
      CREATE INDEX metrics_by_run ON metrics (run_id, step);
      CREATE TABLE provider_cache (key TEXT PRIMARY KEY, value JSONB NOT NULL, created_at BIGINT NOT NULL);`,
  },
];
