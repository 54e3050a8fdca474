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
];
