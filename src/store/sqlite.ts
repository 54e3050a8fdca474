/**
 * The SQLite engine (better-sqlite3 12), the embedded default: one file, WAL
 * mode so readers do not block the writer, and a busy timeout so several
 * processes can share the file. Claims run in `BEGIN IMMEDIATE` transactions,
 * which take the write lock up front, so two workers never claim one item.
 */
import Database from "better-sqlite3";
import {
  type AnnotatorProgress,
  type AnnotatorRow,
  type AnswerRow,
  type AssignmentRow,
  type CampaignItemRow,
  type CampaignRow,
  FREE_STATUSES_SQL,
  isUniqueViolation,
  type NewAnswer,
  type NewCampaignItem,
  type NextAssignmentOptions,
  PROGRESS_SQL,
  type SubmitResult,
  toAnnotator,
  toAnswer,
  toAssignment,
  toCampaign,
  toCampaignItem,
} from "./annotation.js";
import { MIGRATIONS } from "./migrations.js";
import {
  type Claimer,
  type ClaimOptions,
  emptyCounts,
  type NewRecord,
  type NewWorkItem,
  type RecordKind,
  RUN_RECORD_COUNTS_SQL,
  RUNS_SQL,
  type RunSummary,
  recordValues,
  type Store,
  type StoredRecord,
  toClaimers,
  toRunSummaries,
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
    try {
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma("busy_timeout = 10000");
      this.#db.pragma("synchronous = NORMAL");
    } catch (error) {
      this.#db.close();
      throw fileError(error, path);
    }
    // SQLite's own messages ("attempt to write a readonly database", "file is not a database") do
    // not say which file; every method's errors about the file itself are given its name here.
    // biome-ignore lint/correctness/noConstructorReturn: one place that names the file for every method
    return new Proxy(this, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== "function" || key === "constructor") return value;
        return (...args: unknown[]) => {
          try {
            const result = value.apply(target, args);
            return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(fileError(error, path))) : result;
          } catch (error) {
            throw fileError(error, path);
          }
        };
      },
    });
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

  async claim(runId: string, worker: string, { limit, leaseMs, host, pid }: ClaimOptions): Promise<WorkItem[]> {
    return this.#db
      .transaction(() => {
        const now = Date.now();
        const rows = this.#db
          .prepare(
            `SELECT id FROM work_items WHERE run_id = ? AND (status = 'pending' OR (status = 'claimed' AND claim_expires_at < ?)) ORDER BY id LIMIT ?`,
          )
          .all(runId, now, limit) as { id: number }[];
        const update = this.#db.prepare(
          "UPDATE work_items SET status = 'claimed', claimed_by = ?, claimed_host = ?, claimed_pid = ?, claim_expires_at = ?, attempts = attempts + 1, updated_at = ? WHERE id = ? RETURNING *",
        );
        return rows.map(({ id }) =>
          toWorkItem(update.get(worker, host ?? null, pid ?? null, now + leaseMs, now, id) as Record<string, unknown>, true),
        );
      })
      .immediate();
  }

  async claimers(runId: string): Promise<Claimer[]> {
    const rows = this.#db
      .prepare(
        `SELECT claimed_by, claimed_host, claimed_pid, COUNT(*) AS n FROM work_items
         WHERE run_id = ? AND status = 'claimed' AND claim_expires_at >= ? GROUP BY claimed_by, claimed_host, claimed_pid`,
      )
      .all(runId, Date.now()) as Record<string, unknown>[];
    return toClaimers(rows);
  }

  async expireClaims(runId: string, worker: string): Promise<number> {
    return this.#db
      .prepare("UPDATE work_items SET claim_expires_at = 0, updated_at = ? WHERE run_id = ? AND status = 'claimed' AND claimed_by = ?")
      .run(Date.now(), runId, worker).changes;
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

  async renew(ids: number[], worker: string, leaseMs: number): Promise<number> {
    const update = this.#db.prepare(
      "UPDATE work_items SET claim_expires_at = ?, updated_at = ? WHERE id = ? AND status = 'claimed' AND claimed_by = ?",
    );
    return this.#db
      .transaction(() => {
        const now = Date.now();
        let held = 0;
        for (const id of ids) held += update.run(now + leaseMs, now, id, worker).changes;
        return held;
      })
      .immediate();
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

  async runs(): Promise<RunSummary[]> {
    return toRunSummaries(
      this.#db.prepare(RUNS_SQL).all() as Record<string, unknown>[],
      this.#db.prepare(RUN_RECORD_COUNTS_SQL).all() as Record<string, unknown>[],
    );
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

  // Annotation (migration 3). Writes run in BEGIN IMMEDIATE transactions: one writer at a time, so the
  // overlap count and the one-live-answer rule are checked and written without a race.

  async createCampaign(name: string, settings: unknown, items: NewCampaignItem[]): Promise<CampaignRow> {
    try {
      return this.#db
        .transaction(() => {
          const now = Date.now();
          const row = this.#db
            .prepare("INSERT INTO campaigns (name, settings, created_at) VALUES (?, ?, ?) RETURNING *")
            .get(name, JSON.stringify(settings), now) as Record<string, unknown>;
          const insert = this.#db.prepare("INSERT INTO campaign_items (campaign_id, key, position, data) VALUES (?, ?, ?, ?)");
          for (const [position, item] of items.entries()) insert.run(row.id, item.key, position, JSON.stringify(item.data));
          return toCampaign(row, true);
        })
        .immediate();
    } catch (error) {
      if (isUniqueViolation(error)) throw new Error(`a campaign named "${name}" exists already (or two items share a key)`);
      throw error;
    }
  }

  async campaigns(): Promise<CampaignRow[]> {
    return (this.#db.prepare("SELECT * FROM campaigns ORDER BY id").all() as Record<string, unknown>[]).map((r) => toCampaign(r, true));
  }

  async campaign(id: number): Promise<CampaignRow | null> {
    const row = this.#db.prepare("SELECT * FROM campaigns WHERE id = ?").get(id) as Record<string, unknown> | undefined;
    return row ? toCampaign(row, true) : null;
  }

  async campaignItems(campaignId: number): Promise<CampaignItemRow[]> {
    const rows = this.#db.prepare("SELECT * FROM campaign_items WHERE campaign_id = ? ORDER BY position").all(campaignId);
    return (rows as Record<string, unknown>[]).map((r) => toCampaignItem(r, true));
  }

  async campaignItem(campaignId: number, itemId: number): Promise<CampaignItemRow | null> {
    const row = this.#db.prepare("SELECT * FROM campaign_items WHERE campaign_id = ? AND id = ?").get(campaignId, itemId);
    return row ? toCampaignItem(row as Record<string, unknown>, true) : null;
  }

  async addAnnotator(name: string, tokenHash: string): Promise<AnnotatorRow> {
    try {
      const row = this.#db
        .prepare("INSERT INTO annotators (name, token_hash, created_at) VALUES (?, ?, ?) RETURNING *")
        .get(name, tokenHash, Date.now());
      return toAnnotator(row as Record<string, unknown>);
    } catch (error) {
      if (isUniqueViolation(error)) throw new Error(`an annotator named "${name}" exists already`);
      throw error;
    }
  }

  async annotators(): Promise<AnnotatorRow[]> {
    return (this.#db.prepare("SELECT * FROM annotators ORDER BY id").all() as Record<string, unknown>[]).map(toAnnotator);
  }

  async annotatorByName(name: string): Promise<AnnotatorRow | null> {
    const row = this.#db.prepare("SELECT * FROM annotators WHERE name = ?").get(name) as Record<string, unknown> | undefined;
    return row ? toAnnotator(row) : null;
  }

  async annotatorByTokenHash(tokenHash: string): Promise<AnnotatorRow | null> {
    const row = this.#db.prepare("SELECT * FROM annotators WHERE token_hash = ? AND revoked_at IS NULL").get(tokenHash) as
      | Record<string, unknown>
      | undefined;
    return row ? toAnnotator(row) : null;
  }

  async setAnnotatorToken(annotatorId: number, tokenHash: string): Promise<void> {
    this.#db.prepare("UPDATE annotators SET token_hash = ?, revoked_at = NULL WHERE id = ?").run(tokenHash, annotatorId);
  }

  async revokeAnnotator(annotatorId: number): Promise<void> {
    // The hash column stays unique and non-null; "revoked:<id>" is no SHA-256, so no token matches it.
    this.#db
      .prepare("UPDATE annotators SET token_hash = ?, revoked_at = ? WHERE id = ?")
      .run(`revoked:${annotatorId}`, Date.now(), annotatorId);
  }

  async joinCampaign(campaignId: number, annotatorId: number): Promise<void> {
    this.#db
      .prepare("INSERT INTO campaign_members (campaign_id, annotator_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
      .run(campaignId, annotatorId);
  }

  async campaignMembers(campaignId: number): Promise<number[]> {
    const rows = this.#db.prepare("SELECT annotator_id FROM campaign_members WHERE campaign_id = ? ORDER BY annotator_id").all(campaignId);
    return (rows as { annotator_id: number }[]).map((r) => r.annotator_id);
  }

  async annotatorCampaigns(annotatorId: number): Promise<number[]> {
    const rows = this.#db.prepare("SELECT campaign_id FROM campaign_members WHERE annotator_id = ? ORDER BY campaign_id").all(annotatorId);
    return (rows as { campaign_id: number }[]).map((r) => r.campaign_id);
  }

  async nextAssignment(
    campaignId: number,
    annotatorId: number,
    { overlap, order, expireAfterMs }: NextAssignmentOptions,
  ): Promise<{ assignment: AssignmentRow; item: CampaignItemRow } | null> {
    return this.#db
      .transaction(() => {
        const now = Date.now();
        if (expireAfterMs !== undefined)
          this.#db
            .prepare("UPDATE assignments SET status = 'expired' WHERE campaign_id = ? AND status = 'assigned' AND assigned_at < ?")
            .run(campaignId, now - expireAfterMs);
        const withItem = (assignment: Record<string, unknown>) => ({
          assignment: toAssignment(assignment, true),
          item: toCampaignItem(
            this.#db.prepare("SELECT * FROM campaign_items WHERE id = ?").get(assignment.item_id) as Record<string, unknown>,
            true,
          ),
        });
        const open = this.#db
          .prepare("SELECT * FROM assignments WHERE campaign_id = ? AND annotator_id = ? AND status = 'assigned' ORDER BY seq DESC LIMIT 1")
          .get(campaignId, annotatorId) as Record<string, unknown> | undefined;
        if (open) {
          // Fetching the task again is activity: the clock of its expiry starts again.
          this.#db.prepare("UPDATE assignments SET assigned_at = ? WHERE id = ?").run(now, open.id);
          return withItem({ ...open, assigned_at: now });
        }
        const free = this.#db
          .prepare(
            `SELECT i.*, (SELECT COUNT(*) FROM assignments a WHERE a.item_id = i.id AND a.status NOT IN ${FREE_STATUSES_SQL}) AS taken
             FROM campaign_items i
             WHERE i.campaign_id = ? AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.annotator_id = ?)
               AND (SELECT COUNT(*) FROM assignments a WHERE a.item_id = i.id AND a.status NOT IN ${FREE_STATUSES_SQL}) < ?
             ORDER BY taken DESC, i.position LIMIT 1`,
          )
          .get(campaignId, annotatorId, overlap) as Record<string, unknown> | undefined;
        if (!free) return null;
        const item = toCampaignItem(free, true);
        const assignment = this.#db
          .prepare(
            `INSERT INTO assignments (campaign_id, item_id, annotator_id, shown_order, status, seq, assigned_at)
             VALUES (?, ?, ?, ?, 'assigned', (SELECT COALESCE(MAX(seq), 0) + 1 FROM assignments WHERE campaign_id = ? AND annotator_id = ?), ?) RETURNING *`,
          )
          .get(campaignId, item.id, annotatorId, JSON.stringify(order(item)), campaignId, annotatorId, now) as Record<string, unknown>;
        return { assignment: toAssignment(assignment, true), item };
      })
      .immediate();
  }

  async skipAssignment(campaignId: number, annotatorId: number, itemId: number): Promise<boolean> {
    const { changes } = this.#db
      .prepare(
        "UPDATE assignments SET status = 'skipped' WHERE campaign_id = ? AND annotator_id = ? AND item_id = ? AND status = 'assigned'",
      )
      .run(campaignId, annotatorId, itemId);
    return changes === 1;
  }

  async submitAnswer(answer: NewAnswer): Promise<SubmitResult> {
    return this.#db
      .transaction((): SubmitResult => {
        const same = this.#db
          .prepare("SELECT * FROM answers WHERE annotator_id = ? AND item_id = ? AND idempotency_key = ?")
          .get(answer.annotatorId, answer.itemId, answer.idempotencyKey) as Record<string, unknown> | undefined;
        if (same && same.undone_at === null) return { status: "duplicate", answer: toAnswer(same, true) };
        const assignment = this.#db
          .prepare("SELECT * FROM assignments WHERE campaign_id = ? AND item_id = ? AND annotator_id = ?")
          .get(answer.campaignId, answer.itemId, answer.annotatorId) as Record<string, unknown> | undefined;
        if (!assignment || assignment.status === "skipped") return { status: "not_assigned" };
        if (assignment.status === "expired") return { status: "expired" };
        // The key of an answer that was undone is free again: the undone row keeps its history under a suffixed key.
        if (same) this.#db.prepare("UPDATE answers SET idempotency_key = idempotency_key || ':undone:' || id WHERE id = ?").run(same.id);
        if (assignment.status === "answered") return { status: "already_answered" };
        const row = this.#db
          .prepare(
            `INSERT INTO answers (campaign_id, item_id, annotator_id, idempotency_key, shown_order, data, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          )
          .get(
            answer.campaignId,
            answer.itemId,
            answer.annotatorId,
            answer.idempotencyKey,
            assignment.shown_order,
            JSON.stringify(answer.data),
            Date.now(),
          ) as Record<string, unknown>;
        this.#db.prepare("UPDATE assignments SET status = 'answered' WHERE id = ?").run(assignment.id);
        return { status: "stored", answer: toAnswer(row, true) };
      })
      .immediate();
  }

  async undoLastAnswer(campaignId: number, annotatorId: number): Promise<AnswerRow | null> {
    return this.#db
      .transaction(() => {
        const last = this.#db
          .prepare("SELECT * FROM answers WHERE campaign_id = ? AND annotator_id = ? AND undone_at IS NULL ORDER BY id DESC LIMIT 1")
          .get(campaignId, annotatorId) as Record<string, unknown> | undefined;
        if (!last) return null;
        const now = Date.now();
        const row = this.#db.prepare("UPDATE answers SET undone_at = ? WHERE id = ? RETURNING *").get(now, last.id) as Record<
          string,
          unknown
        >;
        this.#db
          .prepare(
            `UPDATE assignments SET status = 'assigned', assigned_at = ?, seq = (SELECT MAX(seq) + 1 FROM assignments WHERE campaign_id = ? AND annotator_id = ?)
             WHERE campaign_id = ? AND annotator_id = ? AND item_id = ?`,
          )
          .run(now, campaignId, annotatorId, campaignId, annotatorId, last.item_id);
        return toAnswer(row, true);
      })
      .immediate();
  }

  async answers(campaignId: number, options: { annotatorId?: number; includeUndone?: boolean } = {}): Promise<AnswerRow[]> {
    const where = ["campaign_id = ?"];
    const params: unknown[] = [campaignId];
    if (options.annotatorId !== undefined) {
      where.push("annotator_id = ?");
      params.push(options.annotatorId);
    }
    if (!options.includeUndone) where.push("undone_at IS NULL");
    const rows = this.#db.prepare(`SELECT * FROM answers WHERE ${where.join(" AND ")} ORDER BY id`).all(...params);
    return (rows as Record<string, unknown>[]).map((r) => toAnswer(r, true));
  }

  async assignments(campaignId: number): Promise<AssignmentRow[]> {
    const rows = this.#db.prepare("SELECT * FROM assignments WHERE campaign_id = ? ORDER BY id").all(campaignId);
    return (rows as Record<string, unknown>[]).map((r) => toAssignment(r, true));
  }

  async assignment(campaignId: number, itemId: number, annotatorId: number): Promise<AssignmentRow | null> {
    const row = this.#db
      .prepare("SELECT * FROM assignments WHERE campaign_id = ? AND item_id = ? AND annotator_id = ?")
      .get(campaignId, itemId, annotatorId);
    return row ? toAssignment(row as Record<string, unknown>, true) : null;
  }

  async annotatorProgress(campaignId: number, annotatorId: number, overlap: number): Promise<AnnotatorProgress> {
    // better-sqlite3 binds $N placeholders by name from an object.
    const row = this.#db.prepare(PROGRESS_SQL).get({ 1: campaignId, 2: annotatorId, 3: overlap }) as Record<string, number>;
    return { answered: Number(row.answered), skipped: Number(row.skipped), remaining: Number(row.remaining) };
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

/** An SQLite error about the file itself (read-only, damaged, not a database, disk full) → one that names the file and says what to do. */
export function fileError(error: unknown, path: string): unknown {
  const code = String((error as { code?: unknown } | null)?.code ?? "");
  const message = (error as Error)?.message ?? String(error);
  if (code.startsWith("SQLITE_READONLY"))
    return new Error(`the SQLite store ${path} is read-only (${message}): make it writable, or give another file with --db`);
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT"))
    return new Error(
      `the SQLite store ${path} is damaged or not an SQLite database (${message}): restore it from a backup, or give another file with --db`,
    );
  if (code.startsWith("SQLITE_IOERR") || code.startsWith("SQLITE_CANTOPEN") || code === "SQLITE_FULL" || code === "SQLITE_PERM")
    return new Error(`the SQLite store ${path}: ${message}`);
  return error;
}
