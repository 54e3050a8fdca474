/**
 * The PostgreSQL engine (`pg`), for teams and many workers on many machines.
 * Claims use `FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint
 * items without waiting on each other; migrations take an advisory lock so
 * two processes starting at once do not both apply them.
 */
import pg from "pg";
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

  async claim(runId: string, worker: string, { limit, leaseMs, host, pid }: ClaimOptions): Promise<WorkItem[]> {
    const now = Date.now();
    const { rows } = await this.#pool.query(
      `UPDATE work_items SET status = 'claimed', claimed_by = $2, claimed_host = $6, claimed_pid = $7, claim_expires_at = $3, attempts = attempts + 1, updated_at = $4
       WHERE id IN (
         SELECT id FROM work_items
         WHERE run_id = $1 AND (status = 'pending' OR (status = 'claimed' AND claim_expires_at < $4))
         ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [runId, worker, now + leaseMs, now, limit, host ?? null, pid ?? null],
    );
    return rows.map((row) => toWorkItem(row, false)).sort((a, b) => a.id - b.id);
  }

  async claimers(runId: string): Promise<Claimer[]> {
    const { rows } = await this.#pool.query(
      `SELECT claimed_by, claimed_host, claimed_pid, COUNT(*) AS n FROM work_items
       WHERE run_id = $1 AND status = 'claimed' AND claim_expires_at >= $2 GROUP BY claimed_by, claimed_host, claimed_pid`,
      [runId, Date.now()],
    );
    return toClaimers(rows);
  }

  async expireClaims(runId: string, worker: string): Promise<number> {
    const { rowCount } = await this.#pool.query(
      "UPDATE work_items SET claim_expires_at = 0, updated_at = $1 WHERE run_id = $2 AND status = 'claimed' AND claimed_by = $3",
      [Date.now(), runId, worker],
    );
    return rowCount ?? 0;
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

  async renew(ids: number[], worker: string, leaseMs: number): Promise<number> {
    if (ids.length === 0) return 0;
    const now = Date.now();
    const { rowCount } = await this.#pool.query(
      "UPDATE work_items SET claim_expires_at = $1, updated_at = $2 WHERE id = ANY($3::bigint[]) AND status = 'claimed' AND claimed_by = $4",
      [now + leaseMs, now, ids, worker],
    );
    return rowCount ?? 0;
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

  async runs(): Promise<RunSummary[]> {
    const [runs, counts] = await Promise.all([this.#pool.query(RUNS_SQL), this.#pool.query(RUN_RECORD_COUNTS_SQL)]);
    return toRunSummaries(runs.rows, counts.rows);
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

  // Annotation (migration 3). Handing out items locks the campaign row, so two annotators asking at
  // once cannot both take an item's last slot; an answer locks its assignment row, so a double
  // submission waits for the first and then finds it stored.

  async createCampaign(name: string, settings: unknown, items: NewCampaignItem[]): Promise<CampaignRow> {
    try {
      return await this.#transaction(async (client) => {
        const { rows } = await client.query("INSERT INTO campaigns (name, settings, created_at) VALUES ($1, $2, $3) RETURNING *", [
          name,
          JSON.stringify(settings),
          Date.now(),
        ]);
        const campaign = toCampaign(rows[0], false);
        for (const [position, item] of items.entries()) {
          await client.query("INSERT INTO campaign_items (campaign_id, key, position, data) VALUES ($1, $2, $3, $4)", [
            campaign.id,
            item.key,
            position,
            JSON.stringify(item.data),
          ]);
        }
        return campaign;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new Error(`a campaign named "${name}" exists already (or two items share a key)`);
      throw error;
    }
  }

  async campaigns(): Promise<CampaignRow[]> {
    return (await this.#pool.query("SELECT * FROM campaigns ORDER BY id")).rows.map((r) => toCampaign(r, false));
  }

  async campaign(id: number): Promise<CampaignRow | null> {
    const { rows } = await this.#pool.query("SELECT * FROM campaigns WHERE id = $1", [id]);
    return rows[0] ? toCampaign(rows[0], false) : null;
  }

  async campaignItems(campaignId: number): Promise<CampaignItemRow[]> {
    const { rows } = await this.#pool.query("SELECT * FROM campaign_items WHERE campaign_id = $1 ORDER BY position", [campaignId]);
    return rows.map((r) => toCampaignItem(r, false));
  }

  async campaignItem(campaignId: number, itemId: number): Promise<CampaignItemRow | null> {
    const { rows } = await this.#pool.query("SELECT * FROM campaign_items WHERE campaign_id = $1 AND id = $2", [campaignId, itemId]);
    return rows[0] ? toCampaignItem(rows[0], false) : null;
  }

  async addAnnotator(name: string, tokenHash: string): Promise<AnnotatorRow> {
    try {
      const { rows } = await this.#pool.query("INSERT INTO annotators (name, token_hash, created_at) VALUES ($1, $2, $3) RETURNING *", [
        name,
        tokenHash,
        Date.now(),
      ]);
      return toAnnotator(rows[0]);
    } catch (error) {
      if (isUniqueViolation(error)) throw new Error(`an annotator named "${name}" exists already`);
      throw error;
    }
  }

  async annotators(): Promise<AnnotatorRow[]> {
    return (await this.#pool.query("SELECT * FROM annotators ORDER BY id")).rows.map(toAnnotator);
  }

  async annotatorByName(name: string): Promise<AnnotatorRow | null> {
    const { rows } = await this.#pool.query("SELECT * FROM annotators WHERE name = $1", [name]);
    return rows[0] ? toAnnotator(rows[0]) : null;
  }

  async annotatorByTokenHash(tokenHash: string): Promise<AnnotatorRow | null> {
    const { rows } = await this.#pool.query("SELECT * FROM annotators WHERE token_hash = $1 AND revoked_at IS NULL", [tokenHash]);
    return rows[0] ? toAnnotator(rows[0]) : null;
  }

  async setAnnotatorToken(annotatorId: number, tokenHash: string): Promise<void> {
    await this.#pool.query("UPDATE annotators SET token_hash = $1, revoked_at = NULL WHERE id = $2", [tokenHash, annotatorId]);
  }

  async revokeAnnotator(annotatorId: number): Promise<void> {
    // The hash column stays unique and non-null; "revoked:<id>" is no SHA-256, so no token matches it.
    await this.#pool.query("UPDATE annotators SET token_hash = $1, revoked_at = $2 WHERE id = $3", [
      `revoked:${annotatorId}`,
      Date.now(),
      annotatorId,
    ]);
  }

  async joinCampaign(campaignId: number, annotatorId: number): Promise<void> {
    await this.#pool.query("INSERT INTO campaign_members (campaign_id, annotator_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
      campaignId,
      annotatorId,
    ]);
  }

  async campaignMembers(campaignId: number): Promise<number[]> {
    const { rows } = await this.#pool.query("SELECT annotator_id FROM campaign_members WHERE campaign_id = $1 ORDER BY annotator_id", [
      campaignId,
    ]);
    return rows.map((r) => Number(r.annotator_id));
  }

  async annotatorCampaigns(annotatorId: number): Promise<number[]> {
    const { rows } = await this.#pool.query("SELECT campaign_id FROM campaign_members WHERE annotator_id = $1 ORDER BY campaign_id", [
      annotatorId,
    ]);
    return rows.map((r) => Number(r.campaign_id));
  }

  async nextAssignment(
    campaignId: number,
    annotatorId: number,
    { overlap, order, expireAfterMs }: NextAssignmentOptions,
  ): Promise<{ assignment: AssignmentRow; item: CampaignItemRow } | null> {
    return this.#transaction(async (client) => {
      await client.query("SELECT id FROM campaigns WHERE id = $1 FOR UPDATE", [campaignId]);
      const now = Date.now();
      if (expireAfterMs !== undefined)
        await client.query(
          "UPDATE assignments SET status = 'expired' WHERE campaign_id = $1 AND status = 'assigned' AND assigned_at < $2",
          [campaignId, now - expireAfterMs],
        );
      const open = await client.query(
        "SELECT * FROM assignments WHERE campaign_id = $1 AND annotator_id = $2 AND status = 'assigned' ORDER BY seq DESC LIMIT 1",
        [campaignId, annotatorId],
      );
      if (open.rows[0]) {
        // Fetching the task again is activity: the clock of its expiry starts again.
        await client.query("UPDATE assignments SET assigned_at = $1 WHERE id = $2", [now, open.rows[0].id]);
        const { rows } = await client.query("SELECT * FROM campaign_items WHERE id = $1", [open.rows[0].item_id]);
        return { assignment: toAssignment({ ...open.rows[0], assigned_at: now }, false), item: toCampaignItem(rows[0], false) };
      }
      const free = await client.query(
        `SELECT i.*, (SELECT COUNT(*) FROM assignments a WHERE a.item_id = i.id AND a.status NOT IN ${FREE_STATUSES_SQL}) AS taken
         FROM campaign_items i
         WHERE i.campaign_id = $1 AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.annotator_id = $2)
           AND (SELECT COUNT(*) FROM assignments a WHERE a.item_id = i.id AND a.status NOT IN ${FREE_STATUSES_SQL}) < $3
         ORDER BY taken DESC, i.position LIMIT 1`,
        [campaignId, annotatorId, overlap],
      );
      if (!free.rows[0]) return null;
      const item = toCampaignItem(free.rows[0], false);
      const { rows } = await client.query(
        `INSERT INTO assignments (campaign_id, item_id, annotator_id, shown_order, status, seq, assigned_at)
         VALUES ($1, $2, $3, $4, 'assigned', (SELECT COALESCE(MAX(seq), 0) + 1 FROM assignments WHERE campaign_id = $1 AND annotator_id = $3), $5)
         RETURNING *`,
        [campaignId, item.id, annotatorId, JSON.stringify(order(item)), now],
      );
      return { assignment: toAssignment(rows[0], false), item };
    });
  }

  async skipAssignment(campaignId: number, annotatorId: number, itemId: number): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      "UPDATE assignments SET status = 'skipped' WHERE campaign_id = $1 AND annotator_id = $2 AND item_id = $3 AND status = 'assigned'",
      [campaignId, annotatorId, itemId],
    );
    return rowCount === 1;
  }

  async submitAnswer(answer: NewAnswer): Promise<SubmitResult> {
    return this.#transaction(async (client): Promise<SubmitResult> => {
      const assignment = (
        await client.query("SELECT * FROM assignments WHERE campaign_id = $1 AND item_id = $2 AND annotator_id = $3 FOR UPDATE", [
          answer.campaignId,
          answer.itemId,
          answer.annotatorId,
        ])
      ).rows[0];
      const same = (
        await client.query("SELECT * FROM answers WHERE annotator_id = $1 AND item_id = $2 AND idempotency_key = $3", [
          answer.annotatorId,
          answer.itemId,
          answer.idempotencyKey,
        ])
      ).rows[0];
      if (same && same.undone_at === null) return { status: "duplicate", answer: toAnswer(same, false) };
      if (!assignment || assignment.status === "skipped") return { status: "not_assigned" };
      if (assignment.status === "expired") return { status: "expired" };
      // The key of an answer that was undone is free again: the undone row keeps its history under a suffixed key.
      if (same) await client.query("UPDATE answers SET idempotency_key = idempotency_key || ':undone:' || id WHERE id = $1", [same.id]);
      if (assignment.status === "answered") return { status: "already_answered" };
      const { rows } = await client.query(
        `INSERT INTO answers (campaign_id, item_id, annotator_id, idempotency_key, shown_order, data, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [
          answer.campaignId,
          answer.itemId,
          answer.annotatorId,
          answer.idempotencyKey,
          JSON.stringify(assignment.shown_order),
          JSON.stringify(answer.data),
          Date.now(),
        ],
      );
      await client.query("UPDATE assignments SET status = 'answered' WHERE id = $1", [assignment.id]);
      return { status: "stored", answer: toAnswer(rows[0], false) };
    });
  }

  async undoLastAnswer(campaignId: number, annotatorId: number): Promise<AnswerRow | null> {
    return this.#transaction(async (client) => {
      await client.query("SELECT id FROM campaigns WHERE id = $1 FOR UPDATE", [campaignId]);
      const last = (
        await client.query(
          "SELECT * FROM answers WHERE campaign_id = $1 AND annotator_id = $2 AND undone_at IS NULL ORDER BY id DESC LIMIT 1 FOR UPDATE",
          [campaignId, annotatorId],
        )
      ).rows[0];
      if (!last) return null;
      const { rows } = await client.query("UPDATE answers SET undone_at = $1 WHERE id = $2 RETURNING *", [Date.now(), last.id]);
      await client.query(
        `UPDATE assignments SET status = 'assigned', assigned_at = $4, seq = (SELECT MAX(seq) + 1 FROM assignments WHERE campaign_id = $1 AND annotator_id = $2)
         WHERE campaign_id = $1 AND annotator_id = $2 AND item_id = $3`,
        [campaignId, annotatorId, last.item_id, Date.now()],
      );
      return toAnswer(rows[0], false);
    });
  }

  async answers(campaignId: number, options: { annotatorId?: number; includeUndone?: boolean } = {}): Promise<AnswerRow[]> {
    const where = ["campaign_id = $1"];
    const params: unknown[] = [campaignId];
    if (options.annotatorId !== undefined) {
      params.push(options.annotatorId);
      where.push(`annotator_id = $${params.length}`);
    }
    if (!options.includeUndone) where.push("undone_at IS NULL");
    const { rows } = await this.#pool.query(`SELECT * FROM answers WHERE ${where.join(" AND ")} ORDER BY id`, params);
    return rows.map((r) => toAnswer(r, false));
  }

  async assignments(campaignId: number): Promise<AssignmentRow[]> {
    const { rows } = await this.#pool.query("SELECT * FROM assignments WHERE campaign_id = $1 ORDER BY id", [campaignId]);
    return rows.map((r) => toAssignment(r, false));
  }

  async assignment(campaignId: number, itemId: number, annotatorId: number): Promise<AssignmentRow | null> {
    const { rows } = await this.#pool.query("SELECT * FROM assignments WHERE campaign_id = $1 AND item_id = $2 AND annotator_id = $3", [
      campaignId,
      itemId,
      annotatorId,
    ]);
    return rows[0] ? toAssignment(rows[0], false) : null;
  }

  async annotatorProgress(campaignId: number, annotatorId: number, overlap: number): Promise<AnnotatorProgress> {
    const { rows } = await this.#pool.query(PROGRESS_SQL, [campaignId, annotatorId, overlap]);
    return { answered: Number(rows[0].answered), skipped: Number(rows[0].skipped), remaining: Number(rows[0].remaining) };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** A connection URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
