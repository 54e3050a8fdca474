/**
 * The store, once for both engines, over Kysely. Where the engines differ:
 *
 * - Transactions that must see and write without a race begin with
 *   `BEGIN IMMEDIATE` on SQLite (the write lock up front: one writer at a time
 *   across processes) and plain `BEGIN` on PostgreSQL, where the rows they
 *   decide on are locked instead: claims take `FOR UPDATE SKIP LOCKED`, so
 *   concurrent workers take disjoint items without waiting on each other;
 *   handing out annotation items locks the campaign row, an answer its
 *   assignment row.
 * - Migrations take an advisory lock on PostgreSQL, so two processes starting
 *   at once do not both apply them (SQLite's write lock does that there).
 */
import { type Kysely, type OnConflictBuilder, sql, type UpdateObject, type UpdateResult } from "kysely";
import {
  type AnnotatorProgress,
  type AnnotatorRow,
  type AnswerRow,
  type AssignmentRow,
  type CampaignItemRow,
  type CampaignRow,
  FREE_STATUSES,
  isUniqueViolation,
  type NewAnswer,
  type NewCampaignItem,
  type NextAssignmentOptions,
  progressQuery,
  type SubmitResult,
  toAnnotator,
  toAnswer,
  toAssignment,
  toCampaign,
  toCampaignItem,
} from "./annotation.js";
import type { Connection, Dialect } from "./connect.js";
import { MIGRATIONS } from "./migrations.js";
import { emptyCounts, RUN_RECORD_COUNTS_SQL, RUNS_SQL, toClaimers, toRunSummaries, toStoredRecord, toWorkItem } from "./rows.js";
import type { Tables } from "./schema.js";
import type {
  Claimer,
  ClaimOptions,
  NewRecord,
  NewWorkItem,
  RecordKind,
  RunSummary,
  Store,
  StoredRecord,
  WorkItem,
  WorkStatus,
} from "./store.js";

type Db = Kysely<Tables>;
type Row = Record<string, unknown>;

const MIGRATION_LOCK = 7_355_608;
/** The table of applied versions, as the hand-written stores made it. */
const SCHEMA_MIGRATIONS = {
  sqlite: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
  postgres: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
};
/** Rows per multi-row INSERT: far below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters. */
const CHUNK = 500;

const jsonText = (value: unknown) => JSON.stringify(value ?? null);
const parse = (text: string) => JSON.parse(text) as unknown;

function* chunks<T>(items: T[], size = CHUNK): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

export class SqlStore implements Store {
  readonly dialect: Dialect;
  readonly #db: Db;
  readonly #connection: Connection;

  constructor(connection: Connection) {
    this.#connection = connection;
    this.#db = connection.db;
    this.dialect = connection.dialect;
  }

  /** Runs `body` in one transaction on one connection (see the header for how each engine begins). */
  async #transaction<T>(body: (tx: Db) => Promise<T>): Promise<T> {
    return this.#db.connection().execute(async (tx) => {
      await sql.raw(this.dialect === "sqlite" ? "BEGIN IMMEDIATE" : "BEGIN").execute(tx);
      try {
        const result = await body(tx);
        await sql`COMMIT`.execute(tx);
        return result;
      } catch (error) {
        await sql`ROLLBACK`.execute(tx).catch(() => {});
        throw error;
      }
    });
  }

  /** `FOR UPDATE` (with `SKIP LOCKED`) where rows can be locked; SQLite's write lock already covers the transaction. */
  get #locks(): boolean {
    return this.dialect === "postgres";
  }

  async migrate(): Promise<void> {
    const versions = async (db: Db) =>
      new Set((await db.selectFrom("schema_migrations").select("version").execute()).map((r) => r.version));
    // Nothing to apply: no write lock needed, so a read-only store can still be read.
    const applied = await versions(this.#db).catch(() => new Set<number>());
    if (MIGRATIONS.every((m) => applied.has(m.version))) return;
    await this.#transaction(async (tx) => {
      if (this.dialect === "postgres") await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(tx);
      await sql.raw(SCHEMA_MIGRATIONS[this.dialect]).execute(tx);
      const done = await versions(tx);
      for (const { version, name, ...ddl } of MIGRATIONS) {
        if (done.has(version)) continue;
        // better-sqlite3 prepares one statement at a time; the migrations hold no `;` inside a statement.
        for (const statement of ddl[this.dialect].split(";")) if (statement.trim()) await sql.raw(statement).execute(tx);
        await tx.insertInto("schema_migrations").values({ version, name, applied_at: Date.now() }).execute();
      }
    });
  }

  async enqueue(runId: string, items: NewWorkItem[]): Promise<number> {
    return this.#transaction(async (tx) => {
      const now = Date.now();
      let added = 0;
      for (const chunk of chunks(items)) {
        const rows = chunk.map((i) => ({
          run_id: runId,
          key: i.key,
          kind: i.kind,
          payload: jsonText(i.payload),
          created_at: now,
          updated_at: now,
        }));
        const result = await tx.insertInto("work_items").values(rows).onConflict(doNothing("run_id", "key")).executeTakeFirst();
        added += Number(result.numInsertedOrUpdatedRows ?? 0);
      }
      return added;
    });
  }

  async claim(runId: string, worker: string, { limit, leaseMs, host, pid }: ClaimOptions): Promise<WorkItem[]> {
    return this.#transaction(async (tx) => {
      const now = Date.now();
      const claimable = tx
        .selectFrom("work_items")
        .select("id")
        .where("run_id", "=", runId)
        .where((eb) => eb.or([eb("status", "=", "pending"), eb.and([eb("status", "=", "claimed"), eb("claim_expires_at", "<", now)])]))
        .orderBy("id")
        .limit(limit)
        .$if(this.#locks, (q) => q.forUpdate().skipLocked());
      const claimed = { status: "claimed" as const, claimed_by: worker, claimed_host: host ?? null, claimed_pid: pid ?? null };
      const rows = await tx
        .updateTable("work_items")
        .set({ ...claimed, claim_expires_at: now + leaseMs, attempts: sql`attempts + 1`, updated_at: now })
        .where("id", "in", claimable)
        .returningAll()
        .execute();
      return rows.map(toWorkItem).sort((a, b) => a.id - b.id);
    });
  }

  async claimers(runId: string): Promise<Claimer[]> {
    const rows = await this.#db
      .selectFrom("work_items")
      .select(["claimed_by", "claimed_host", "claimed_pid", (eb) => eb.fn.countAll().as("n")])
      .where((eb) => eb.and({ run_id: runId, status: "claimed" }))
      .where("claim_expires_at", ">=", Date.now())
      .groupBy(["claimed_by", "claimed_host", "claimed_pid"])
      .execute();
    return toClaimers(rows);
  }

  async expireClaims(runId: string, worker: string): Promise<number> {
    const claims = { run_id: runId, status: "claimed" as const, claimed_by: worker };
    return updated(
      await this.#db
        .updateTable("work_items")
        .set({ claim_expires_at: 0, updated_at: Date.now() })
        .where((eb) => eb.and(claims))
        .executeTakeFirst(),
    );
  }

  /** The update that ends `worker`'s claim on item `id`: it changes nothing once the claim is gone (done, expired and taken). */
  #endClaim(id: number, worker: string, values: UpdateObject<Tables, "work_items">) {
    const ended = { ...values, claimed_by: null, claim_expires_at: null, updated_at: Date.now() };
    return this.#db
      .updateTable("work_items")
      .set(ended)
      .where((eb) => eb.and({ id, status: "claimed", claimed_by: worker }))
      .executeTakeFirst();
  }

  async complete(id: number, worker: string, result: unknown): Promise<boolean> {
    return updated(await this.#endClaim(id, worker, { status: "done", result: jsonText(result) })) === 1;
  }

  async release(id: number, worker: string, error?: string, maxAttempts = Number.POSITIVE_INFINITY): Promise<boolean> {
    const max = Number.isFinite(maxAttempts) ? maxAttempts : 2 ** 31 - 1;
    const status = sql<WorkStatus>`CASE WHEN attempts >= ${max} THEN 'failed' ELSE 'pending' END`;
    return updated(await this.#endClaim(id, worker, { status, error: error ?? null })) === 1;
  }

  async renew(ids: number[], worker: string, leaseMs: number): Promise<number> {
    const now = Date.now();
    let held = 0;
    for (const chunk of chunks(ids)) {
      const renewed = this.#db.updateTable("work_items").set({ claim_expires_at: now + leaseMs, updated_at: now });
      held += updated(
        await renewed
          .where("id", "in", chunk)
          .where((eb) => eb.and({ status: "claimed", claimed_by: worker }))
          .executeTakeFirst(),
      );
    }
    return held;
  }

  async counts(runId: string): Promise<Record<WorkStatus, number>> {
    const counts = emptyCounts();
    const byStatus = this.#db.selectFrom("work_items").select(["status", (eb) => eb.fn.countAll().as("n")]);
    for (const row of await byStatus.where("run_id", "=", runId).groupBy("status").execute()) counts[row.status] = Number(row.n);
    return counts;
  }

  async items(runId: string): Promise<WorkItem[]> {
    return (await this.#db.selectFrom("work_items").selectAll().where("run_id", "=", runId).orderBy("id").execute()).map(toWorkItem);
  }

  async putRun(id: string, kind: string, config: unknown): Promise<void> {
    const run = { id, kind, config: jsonText(config), created_at: Date.now() };
    await this.#db.insertInto("runs").values(run).onConflict(doNothing("id")).execute();
  }

  async putConstitution(hash: string, name: string, version: string | null, content: unknown): Promise<void> {
    const constitution = { hash, name, version, content: JSON.stringify(content), created_at: Date.now() };
    await this.#db.insertInto("constitutions").values(constitution).onConflict(doNothing("hash")).execute();
  }

  async constitution(hash: string) {
    const row = await this.#db.selectFrom("constitutions").selectAll().where("hash", "=", hash).executeTakeFirst();
    return row ? { hash, name: row.name, version: row.version ?? null, content: parse(row.content) } : null;
  }

  async addRecords(runId: string, records: NewRecord[]): Promise<number[]> {
    return this.#transaction(async (tx) => {
      const now = Date.now();
      const ids: number[] = [];
      for (const chunk of chunks(records, 200)) {
        const rows = chunk.map((record) => recordRow(runId, record, now));
        await tx
          .insertInto("records")
          .values(rows)
          .onConflict(doNothing("run_id", "kind", "key"))
          .execute();
        // Each record's id, new or existing (ON CONFLICT DO NOTHING returns nothing for those that existed).
        const keys = chunk.map((r) => r.key);
        const stored = await tx
          .selectFrom("records")
          .select(["id", "kind", "key"])
          .where("run_id", "=", runId)
          .where("key", "in", keys)
          .execute();
        const byKey = new Map(stored.map((r) => [`${r.kind}\n${r.key}`, Number(r.id)]));
        for (const record of chunk) ids.push(byKey.get(`${record.kind}\n${record.key}`) as number);
      }
      return ids;
    });
  }

  async records(runId: string, kind?: RecordKind): Promise<StoredRecord[]> {
    const ofRun = this.#db.selectFrom("records").selectAll().where("run_id", "=", runId);
    return (
      await ofRun
        .$if(kind !== undefined, (q) => q.where("kind", "=", kind as string))
        .orderBy("id")
        .execute()
    ).map(toStoredRecord);
  }

  async runs(): Promise<RunSummary[]> {
    const [runs, counts] = await Promise.all([
      sql.raw<Row>(RUNS_SQL).execute(this.#db),
      sql.raw<Row>(RUN_RECORD_COUNTS_SQL).execute(this.#db),
    ]);
    return toRunSummaries(runs.rows, counts.rows);
  }

  async principleCounts(constitutionHash: string): Promise<Record<string, number>> {
    const rows = await this.#db
      .selectFrom("records")
      .select(["principle_id", (eb) => eb.fn.countAll().as("n")])
      .where("constitution_hash", "=", constitutionHash)
      .where("principle_id", "is not", null)
      .groupBy("principle_id")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.principle_id as string, Number(r.n)]));
  }

  async addMetrics(runId: string, step: number, data: Record<string, number>): Promise<void> {
    await this.#db
      .insertInto("metrics")
      .values({ run_id: runId, step, data: JSON.stringify(data), created_at: Date.now() })
      .execute();
  }

  async metrics(runId: string) {
    const rows = await this.#db
      .selectFrom("metrics")
      .select(["step", "data"])
      .where("run_id", "=", runId)
      .orderBy("step")
      .orderBy("id")
      .execute();
    return rows.map((row) => ({ step: Number(row.step), data: parse(row.data) as Record<string, number> }));
  }

  async cacheGet(key: string): Promise<unknown | undefined> {
    const row = await this.#db.selectFrom("provider_cache").select("value").where("key", "=", key).executeTakeFirst();
    return row ? parse(row.value) : undefined;
  }

  async cacheSet(key: string, value: unknown): Promise<void> {
    const entry = { key, value: JSON.stringify(value), created_at: Date.now() };
    await this.#db.insertInto("provider_cache").values(entry).onConflict(doNothing("key")).execute();
  }

  // Annotation (migration 3): the overlap count and the one-live-answer rule are checked and written
  // in one transaction, so two annotators (or two submissions) at once cannot both pass the check.

  async createCampaign(name: string, settings: unknown, items: NewCampaignItem[]): Promise<CampaignRow> {
    try {
      return await this.#transaction(async (tx) => {
        const campaign = { name, settings: JSON.stringify(settings), created_at: Date.now() };
        const row = await tx.insertInto("campaigns").values(campaign).returningAll().executeTakeFirstOrThrow();
        const rows = items.map((item, position) => ({ campaign_id: row.id, key: item.key, position, data: JSON.stringify(item.data) }));
        for (const chunk of chunks(rows)) await tx.insertInto("campaign_items").values(chunk).execute();
        return toCampaign(row);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new Error(`a campaign named "${name}" exists already (or two items share a key)`);
      throw error;
    }
  }

  async campaigns(): Promise<CampaignRow[]> {
    return (await this.#db.selectFrom("campaigns").selectAll().orderBy("id").execute()).map(toCampaign);
  }

  async campaign(id: number): Promise<CampaignRow | null> {
    const row = await this.#db.selectFrom("campaigns").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toCampaign(row) : null;
  }

  async campaignItems(campaignId: number): Promise<CampaignItemRow[]> {
    const rows = await this.#db
      .selectFrom("campaign_items")
      .selectAll()
      .where("campaign_id", "=", campaignId)
      .orderBy("position")
      .execute();
    return rows.map(toCampaignItem);
  }

  async campaignItem(campaignId: number, itemId: number): Promise<CampaignItemRow | null> {
    const row = await this.#db
      .selectFrom("campaign_items")
      .selectAll()
      .where((eb) => eb.and({ campaign_id: campaignId, id: itemId }))
      .executeTakeFirst();
    return row ? toCampaignItem(row) : null;
  }

  async addAnnotator(name: string, tokenHash: string): Promise<AnnotatorRow> {
    try {
      const annotator = { name, token_hash: tokenHash, created_at: Date.now() };
      return toAnnotator(await this.#db.insertInto("annotators").values(annotator).returningAll().executeTakeFirstOrThrow());
    } catch (error) {
      if (isUniqueViolation(error)) throw new Error(`an annotator named "${name}" exists already`);
      throw error;
    }
  }

  async annotators(): Promise<AnnotatorRow[]> {
    return (await this.#db.selectFrom("annotators").selectAll().orderBy("id").execute()).map(toAnnotator);
  }

  async annotatorByName(name: string): Promise<AnnotatorRow | null> {
    const row = await this.#db.selectFrom("annotators").selectAll().where("name", "=", name).executeTakeFirst();
    return row ? toAnnotator(row) : null;
  }

  async annotatorByTokenHash(tokenHash: string): Promise<AnnotatorRow | null> {
    const live = { token_hash: tokenHash, revoked_at: null };
    const row = await this.#db
      .selectFrom("annotators")
      .selectAll()
      .where((eb) => eb.and(live))
      .executeTakeFirst();
    return row ? toAnnotator(row) : null;
  }

  async setAnnotatorToken(annotatorId: number, tokenHash: string): Promise<void> {
    await this.#db.updateTable("annotators").set({ token_hash: tokenHash, revoked_at: null }).where("id", "=", annotatorId).execute();
  }

  async revokeAnnotator(annotatorId: number): Promise<void> {
    // The hash column stays unique and non-null; "revoked:<id>" is no SHA-256, so no token matches it.
    const revoked = { token_hash: `revoked:${annotatorId}`, revoked_at: Date.now() };
    await this.#db.updateTable("annotators").set(revoked).where("id", "=", annotatorId).execute();
  }

  async joinCampaign(campaignId: number, annotatorId: number): Promise<void> {
    const member = { campaign_id: campaignId, annotator_id: annotatorId };
    await this.#db.insertInto("campaign_members").values(member).onConflict(doNothing()).execute();
  }

  async campaignMembers(campaignId: number): Promise<number[]> {
    const members = this.#db.selectFrom("campaign_members").select("annotator_id").where("campaign_id", "=", campaignId);
    return (await members.orderBy("annotator_id").execute()).map((r) => Number(r.annotator_id));
  }

  async annotatorCampaigns(annotatorId: number): Promise<number[]> {
    const campaigns = this.#db.selectFrom("campaign_members").select("campaign_id").where("annotator_id", "=", annotatorId);
    return (await campaigns.orderBy("campaign_id").execute()).map((r) => Number(r.campaign_id));
  }

  async nextAssignment(
    campaignId: number,
    annotatorId: number,
    { overlap, order, expireAfterMs }: NextAssignmentOptions,
  ): Promise<{ assignment: AssignmentRow; item: CampaignItemRow } | null> {
    return this.#transaction(async (tx) => {
      if (this.#locks) await tx.selectFrom("campaigns").select("id").where("id", "=", campaignId).forUpdate().execute();
      const now = Date.now();
      const openOnes = { campaign_id: campaignId, status: "assigned" as const };
      if (expireAfterMs !== undefined)
        await tx
          .updateTable("assignments")
          .set({ status: "expired" })
          .where((eb) => eb.and(openOnes))
          .where("assigned_at", "<", now - expireAfterMs)
          .execute();
      const mine = { ...openOnes, annotator_id: annotatorId };
      const open = await tx
        .selectFrom("assignments")
        .selectAll()
        .where((eb) => eb.and(mine))
        .orderBy("seq", "desc")
        .limit(1)
        .executeTakeFirst();
      if (open) {
        // Fetching the task again is activity: the clock of its expiry starts again.
        await tx.updateTable("assignments").set({ assigned_at: now }).where("id", "=", open.id).execute();
        const item = await tx.selectFrom("campaign_items").selectAll().where("id", "=", open.item_id).executeTakeFirstOrThrow();
        return { assignment: toAssignment({ ...open, assigned_at: now }), item: toCampaignItem(item) };
      }
      // An item this annotator has not seen, with a free slot; the fullest first, so items reach their overlap early.
      const taken = sql<number>`(SELECT COUNT(*) FROM assignments a WHERE a.item_id = i.id AND a.status NOT IN (${sql.join(FREE_STATUSES)}))`;
      const seen = sql<boolean>`EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.annotator_id = ${annotatorId})`;
      const free = await tx
        .selectFrom("campaign_items as i")
        .selectAll("i")
        .select(taken.as("taken"))
        .where("i.campaign_id", "=", campaignId)
        .where((eb) => eb.not(seen))
        .where(taken, "<", overlap)
        .orderBy("taken", "desc")
        .orderBy("i.position")
        .limit(1)
        .executeTakeFirst();
      if (!free) return null;
      const item = toCampaignItem(free);
      const seq = sql<number>`(SELECT COALESCE(MAX(seq), 0) + 1 FROM assignments WHERE campaign_id = ${campaignId} AND annotator_id = ${annotatorId})`;
      const assignment = { ...mine, item_id: item.id, shown_order: JSON.stringify(order(item)), seq, assigned_at: now };
      return {
        assignment: toAssignment(await tx.insertInto("assignments").values(assignment).returningAll().executeTakeFirstOrThrow()),
        item,
      };
    });
  }

  async skipAssignment(campaignId: number, annotatorId: number, itemId: number): Promise<boolean> {
    const open = { campaign_id: campaignId, annotator_id: annotatorId, item_id: itemId, status: "assigned" as const };
    return (
      updated(
        await this.#db
          .updateTable("assignments")
          .set({ status: "skipped" })
          .where((eb) => eb.and(open))
          .executeTakeFirst(),
      ) === 1
    );
  }

  async submitAnswer(answer: NewAnswer): Promise<SubmitResult> {
    const { campaignId: campaign_id, itemId: item_id, annotatorId: annotator_id, idempotencyKey: idempotency_key } = answer;
    return this.#transaction(async (tx): Promise<SubmitResult> => {
      const assignment = await tx
        .selectFrom("assignments")
        .selectAll()
        .where((eb) => eb.and({ campaign_id, item_id, annotator_id }))
        .$if(this.#locks, (q) => q.forUpdate())
        .executeTakeFirst();
      const same = await tx
        .selectFrom("answers")
        .selectAll()
        .where((eb) => eb.and({ annotator_id, item_id, idempotency_key }))
        .executeTakeFirst();
      if (same && same.undone_at === null) return { status: "duplicate", answer: toAnswer(same) };
      if (!assignment || assignment.status === "skipped") return { status: "not_assigned" };
      if (assignment.status === "expired") return { status: "expired" };
      // The key of an answer that was undone is free again: the undone row keeps its history under a suffixed key.
      const suffixed = sql<string>`idempotency_key || ':undone:' || id`;
      if (same) await tx.updateTable("answers").set({ idempotency_key: suffixed }).where("id", "=", same.id).execute();
      if (assignment.status === "answered") return { status: "already_answered" };
      const row = {
        campaign_id,
        item_id,
        annotator_id,
        idempotency_key,
        shown_order: assignment.shown_order,
        data: JSON.stringify(answer.data),
      };
      const stored = await tx
        .insertInto("answers")
        .values({ ...row, created_at: Date.now() })
        .returningAll()
        .executeTakeFirstOrThrow();
      await tx.updateTable("assignments").set({ status: "answered" }).where("id", "=", assignment.id).execute();
      return { status: "stored", answer: toAnswer(stored) };
    });
  }

  async undoLastAnswer(campaignId: number, annotatorId: number): Promise<AnswerRow | null> {
    const mine = { campaign_id: campaignId, annotator_id: annotatorId };
    return this.#transaction(async (tx) => {
      if (this.#locks) await tx.selectFrom("campaigns").select("id").where("id", "=", campaignId).forUpdate().execute();
      const last = await tx
        .selectFrom("answers")
        .selectAll()
        .where((eb) => eb.and({ ...mine, undone_at: null }))
        .orderBy("id", "desc")
        .limit(1)
        .$if(this.#locks, (q) => q.forUpdate())
        .executeTakeFirst();
      if (!last) return null;
      const now = Date.now();
      const row = await tx
        .updateTable("answers")
        .set({ undone_at: now })
        .where("id", "=", last.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const seq = sql<number>`(SELECT MAX(seq) + 1 FROM assignments WHERE campaign_id = ${campaignId} AND annotator_id = ${annotatorId})`;
      const reopened = { status: "assigned" as const, assigned_at: now, seq };
      await tx
        .updateTable("assignments")
        .set(reopened)
        .where((eb) => eb.and({ ...mine, item_id: last.item_id }))
        .execute();
      return toAnswer(row);
    });
  }

  async answers(campaignId: number, options: { annotatorId?: number; includeUndone?: boolean } = {}): Promise<AnswerRow[]> {
    const rows = await this.#db
      .selectFrom("answers")
      .selectAll()
      .where("campaign_id", "=", campaignId)
      .$if(options.annotatorId !== undefined, (q) => q.where("annotator_id", "=", options.annotatorId as number))
      .$if(!options.includeUndone, (q) => q.where("undone_at", "is", null))
      .orderBy("id")
      .execute();
    return rows.map(toAnswer);
  }

  async assignments(campaignId: number): Promise<AssignmentRow[]> {
    return (await this.#db.selectFrom("assignments").selectAll().where("campaign_id", "=", campaignId).orderBy("id").execute()).map(
      toAssignment,
    );
  }

  async assignment(campaignId: number, itemId: number, annotatorId: number): Promise<AssignmentRow | null> {
    const which = { campaign_id: campaignId, item_id: itemId, annotator_id: annotatorId };
    const row = await this.#db
      .selectFrom("assignments")
      .selectAll()
      .where((eb) => eb.and(which))
      .executeTakeFirst();
    return row ? toAssignment(row) : null;
  }

  async annotatorProgress(campaignId: number, annotatorId: number, overlap: number): Promise<AnnotatorProgress> {
    const { rows } = await progressQuery(campaignId, annotatorId, overlap).execute(this.#db);
    const row = rows[0] as Record<string, unknown>;
    return { answered: Number(row.answered), skipped: Number(row.skipped), remaining: Number(row.remaining) };
  }

  async close(): Promise<void> {
    await this.#connection.close();
  }
}

/** `ON CONFLICT (columns) DO NOTHING` (any constraint when none are named). */
function doNothing<T extends keyof Tables>(...columns: (keyof Tables[T] & string)[]) {
  return (oc: OnConflictBuilder<Tables, T>) => (columns.length > 0 ? oc.columns(columns) : oc).doNothing();
}

/** How many rows an UPDATE changed. */
function updated(result: UpdateResult): number {
  return Number(result.numUpdatedRows);
}

/** A records row to insert. */
function recordRow(runId: string, record: NewRecord, now: number) {
  return {
    run_id: runId,
    kind: record.kind,
    key: record.key,
    parent_id: record.parentId ?? null,
    data: jsonText(record.data),
    constitution_hash: record.constitutionHash ?? null,
    principle_id: record.principleId ?? null,
    model_id: record.modelId ?? null,
    sampling: record.sampling === undefined ? null : JSON.stringify(record.sampling),
    seed: record.seed ?? null,
    created_at: now,
  };
}
