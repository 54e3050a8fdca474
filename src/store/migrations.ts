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
  {
    version: 3,
    name: "annotation campaigns, annotators (hashed tokens), memberships, assignments, answers",
    sqlite: `
      CREATE TABLE campaigns (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, settings TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE campaign_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
        key TEXT NOT NULL,
        position INTEGER NOT NULL,
        data TEXT NOT NULL,
        UNIQUE (campaign_id, key)
      );
      CREATE TABLE annotators (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL);
      CREATE TABLE campaign_members (
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
        annotator_id INTEGER NOT NULL REFERENCES annotators (id),
        PRIMARY KEY (campaign_id, annotator_id)
      );
      CREATE TABLE assignments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
        item_id INTEGER NOT NULL REFERENCES campaign_items (id),
        annotator_id INTEGER NOT NULL REFERENCES annotators (id),
        shown_order TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'assigned',
        seq INTEGER NOT NULL,
        assigned_at INTEGER NOT NULL,
        UNIQUE (item_id, annotator_id)
      );
      CREATE INDEX assignments_by_annotator ON assignments (campaign_id, annotator_id, status, seq);
      CREATE INDEX assignments_by_item ON assignments (item_id, status);
      CREATE TABLE answers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
        item_id INTEGER NOT NULL REFERENCES campaign_items (id),
        annotator_id INTEGER NOT NULL REFERENCES annotators (id),
        idempotency_key TEXT NOT NULL,
        shown_order TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        undone_at INTEGER,
        UNIQUE (annotator_id, item_id, idempotency_key)
      );
      CREATE UNIQUE INDEX answers_one_active ON answers (annotator_id, item_id) WHERE undone_at IS NULL;
      CREATE INDEX answers_by_campaign ON answers (campaign_id, annotator_id, id);`,
    postgres: `
      CREATE TABLE campaigns (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, settings JSONB NOT NULL, created_at BIGINT NOT NULL);
      CREATE TABLE campaign_items (
        id BIGSERIAL PRIMARY KEY,
        campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
        key TEXT NOT NULL,
        position INTEGER NOT NULL,
        data JSONB NOT NULL,
        UNIQUE (campaign_id, key)
      );
      CREATE TABLE annotators (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL);
      CREATE TABLE campaign_members (
        campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
        annotator_id BIGINT NOT NULL REFERENCES annotators (id),
        PRIMARY KEY (campaign_id, annotator_id)
      );
      CREATE TABLE assignments (
        id BIGSERIAL PRIMARY KEY,
        campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
        item_id BIGINT NOT NULL REFERENCES campaign_items (id),
        annotator_id BIGINT NOT NULL REFERENCES annotators (id),
        shown_order JSONB NOT NULL,
        status TEXT NOT NULL DEFAULT 'assigned',
        seq INTEGER NOT NULL,
        assigned_at BIGINT NOT NULL,
        UNIQUE (item_id, annotator_id)
      );
      CREATE INDEX assignments_by_annotator ON assignments (campaign_id, annotator_id, status, seq);
      CREATE INDEX assignments_by_item ON assignments (item_id, status);
      CREATE TABLE answers (
        id BIGSERIAL PRIMARY KEY,
        campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
        item_id BIGINT NOT NULL REFERENCES campaign_items (id),
        annotator_id BIGINT NOT NULL REFERENCES annotators (id),
        idempotency_key TEXT NOT NULL,
        shown_order JSONB NOT NULL,
        data JSONB NOT NULL,
        created_at BIGINT NOT NULL,
        undone_at BIGINT,
        UNIQUE (annotator_id, item_id, idempotency_key)
      );
      CREATE UNIQUE INDEX answers_one_active ON answers (annotator_id, item_id) WHERE undone_at IS NULL;
      CREATE INDEX answers_by_campaign ON answers (campaign_id, annotator_id, id);`,
  },
  {
    version: 4,
    name: "work claims carry the claimer's host and pid (a claim of a process that died on this host is taken at once)",
    sqlite: `
      ALTER TABLE work_items ADD COLUMN claimed_host TEXT;
      ALTER TABLE work_items ADD COLUMN claimed_pid INTEGER;`,
    postgres: `
      ALTER TABLE work_items ADD COLUMN claimed_host TEXT;
      ALTER TABLE work_items ADD COLUMN claimed_pid INTEGER;`,
  },
  {
    version: 5,
    name: "annotators can be revoked (a leaked token stops working; a new token can be issued)",
    sqlite: "ALTER TABLE annotators ADD COLUMN revoked_at INTEGER;",
    postgres: "ALTER TABLE annotators ADD COLUMN revoked_at BIGINT;",
  },
];
