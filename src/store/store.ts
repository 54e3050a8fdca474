/**
 * The store: one interface over SQLite (the embedded default, a file) and
 * PostgreSQL (for teams and many workers). This first part holds the schema
 * migrations and work claiming; pipeline records build on it.
 *
 * Work claiming: a pipeline enqueues items under a run (a key makes
 * enqueueing idempotent, so a restarted pipeline adds no duplicates); workers
 * claim items with a lease, then complete or release them. A claim held by a
 * dead worker expires and the item is claimed again; a late `complete` from a
 * worker that lost its claim is refused, so no item is done twice.
 */
import type { AnnotationStore } from "./annotation.js";

export type WorkStatus = "pending" | "claimed" | "done" | "failed";

export type WorkItem = {
  id: number;
  runId: string;
  key: string;
  kind: string;
  payload: unknown;
  status: WorkStatus;
  claimedBy: string | null;
  claimExpiresAt: number | null;
  attempts: number;
  result: unknown;
  error: string | null;
};

export type NewWorkItem = { key: string; kind: string; payload?: unknown };

export type ClaimOptions = { limit: number; leaseMs: number; host?: string; pid?: number };
export type Claimer = { worker: string; host: string | null; pid: number | null; items: number };

/** CLAIMERS_SQL rows → `Claimer`s. */
export function toClaimers(rows: Record<string, unknown>[]): Claimer[] {
  return rows.map((r) => ({
    worker: String(r.claimed_by),
    host: (r.claimed_host as string | null) ?? null,
    pid: r.claimed_pid === null || r.claimed_pid === undefined ? null : Number(r.claimed_pid),
    items: Number(r.n),
  }));
}

/** What pipelines store; `data` holds the record in TRL's field names where one exists. */
export type RecordKind = "prompt" | "generation" | "critique" | "revision" | "comparison" | "ai_label" | "annotation";

/** Where a record came from. */
export type Provenance = {
  constitutionHash?: string | null;
  principleId?: string | null;
  modelId?: string | null;
  sampling?: unknown;
  seed?: number | null;
};

export type NewRecord = Provenance & { kind: RecordKind; key: string; data: unknown; parentId?: number | null };
export type StoredRecord = Required<Provenance> & {
  id: number;
  runId: string;
  kind: RecordKind;
  key: string;
  data: unknown;
  parentId: number | null;
  createdAt: number;
};

export type RunSummary = { id: string; kind: string | null; createdAt: number | null; records: Partial<Record<RecordKind, number>> };

/** The runs a store knows: registered ones and any run id that records or work items carry (e.g. from `store import`). */
export const RUNS_SQL = `SELECT ids.id, r.kind, r.created_at FROM
  (SELECT id FROM runs UNION SELECT DISTINCT run_id FROM records UNION SELECT DISTINCT run_id FROM work_items) ids
  LEFT JOIN runs r ON r.id = ids.id ORDER BY COALESCE(r.created_at, 0), ids.id`;
export const RUN_RECORD_COUNTS_SQL = "SELECT run_id, kind, COUNT(*) AS n FROM records GROUP BY run_id, kind";

/** Rows of RUNS_SQL and RUN_RECORD_COUNTS_SQL → `RunSummary`s. */
export function toRunSummaries(runs: Record<string, unknown>[], counts: Record<string, unknown>[]): RunSummary[] {
  const byRun = new Map<string, Partial<Record<RecordKind, number>>>();
  for (const c of counts) {
    const id = String(c.run_id);
    byRun.set(id, { ...byRun.get(id), [String(c.kind)]: Number(c.n) });
  }
  return runs.map((r) => ({
    id: String(r.id),
    kind: (r.kind as string | null) ?? null,
    createdAt: r.created_at === null || r.created_at === undefined ? null : Number(r.created_at),
    records: byRun.get(String(r.id)) ?? {},
  }));
}

export interface Store extends AnnotationStore {
  readonly dialect: "sqlite" | "postgres";
  /** Applies the migrations this database has not seen yet (idempotent). */
  migrate(): Promise<void>;
  /** Adds items to a run; items whose key the run already has are skipped. Returns how many were added. */
  enqueue(runId: string, items: NewWorkItem[]): Promise<number>;
  /**
   * Claims up to `limit` pending (or expired) items for `worker` for `leaseMs`;
   * `host` and `pid` name the claiming process, so a worker on the same host can
   * tell that it died (see `claimers`, `expireClaims`).
   */
  claim(runId: string, worker: string, options: ClaimOptions): Promise<WorkItem[]>;
  /** The workers holding unexpired claims in a run, with the host and pid they claimed from (null when not given). */
  claimers(runId: string): Promise<Claimer[]>;
  /** Ends `worker`'s claims in a run now (it is known to be dead), so they can be claimed again; returns how many. */
  expireClaims(runId: string, worker: string): Promise<number>;
  /** Marks an item done with its result, if `worker` still holds the claim; false otherwise. */
  complete(id: number, worker: string, result: unknown): Promise<boolean>;
  /** Gives an item back (pending again, or failed after `maxAttempts`), if `worker` holds the claim. */
  release(id: number, worker: string, error?: string, maxAttempts?: number): Promise<boolean>;
  /** Extends `worker`'s claims on these items by `leaseMs` from now (a heartbeat for long work); returns how many it still held. */
  renew(ids: number[], worker: string, leaseMs: number): Promise<number>;
  counts(runId: string): Promise<Record<WorkStatus, number>>;
  items(runId: string): Promise<WorkItem[]>;

  /** Records a run (idempotent: an existing run keeps its first config). */
  putRun(id: string, kind: string, config: unknown): Promise<void>;
  /** Stores a constitution under its content hash (idempotent). */
  putConstitution(hash: string, name: string, version: string | null, content: unknown): Promise<void>;
  constitution(hash: string): Promise<{ hash: string; name: string; version: string | null; content: unknown } | null>;
  /**
   * Adds records to a run in one transaction; a record whose (kind, key) the
   * run already has is not added again. Returns each record's id, new or existing.
   */
  addRecords(runId: string, records: NewRecord[]): Promise<number[]>;
  records(runId: string, kind?: RecordKind): Promise<StoredRecord[]>;
  /** Every run the store knows (registered, or with records or work items), oldest first, with its record counts by kind. */
  runs(): Promise<RunSummary[]>;
  /** How many records each principle of a constitution produced, over all runs. */
  principleCounts(constitutionHash: string): Promise<Record<string, number>>;
  addMetrics(runId: string, step: number, data: Record<string, number>): Promise<void>;
  metrics(runId: string): Promise<{ step: number; data: Record<string, number> }[]>;
  cacheGet(key: string): Promise<unknown | undefined>;
  cacheSet(key: string, value: unknown): Promise<void>;
  close(): Promise<void>;
}

/** `postgres://…` / `postgresql://…` opens PostgreSQL; anything else is a SQLite file path (default `precept.db`). */
export async function openStore(location = process.env.PRECEPT_DB ?? "precept.db"): Promise<Store> {
  const store = /^postgres(ql)?:\/\//.test(location)
    ? new (await import("./postgres.js")).PostgresStore(location)
    : new (await import("./sqlite.js")).SqliteStore(location);
  await store.migrate();
  return store;
}

/** Rows as the engines return them → `WorkItem`; SQLite keeps JSON as text, PostgreSQL (JSONB) returns it parsed. */
export function toWorkItem(row: Record<string, unknown>, jsonAsText: boolean): WorkItem {
  const json = (v: unknown) => (v === null || v === undefined ? null : jsonAsText ? JSON.parse(v as string) : v);
  return {
    id: Number(row.id),
    runId: String(row.run_id),
    key: String(row.key),
    kind: String(row.kind),
    payload: json(row.payload),
    status: row.status as WorkStatus,
    claimedBy: (row.claimed_by as string | null) ?? null,
    claimExpiresAt: row.claim_expires_at === null || row.claim_expires_at === undefined ? null : Number(row.claim_expires_at),
    attempts: Number(row.attempts),
    result: json(row.result),
    error: (row.error as string | null) ?? null,
  };
}

/** A records row → `StoredRecord`. */
export function toStoredRecord(row: Record<string, unknown>, jsonAsText: boolean): StoredRecord {
  const json = (v: unknown) => (v === null || v === undefined ? null : jsonAsText ? JSON.parse(v as string) : v);
  return {
    id: Number(row.id),
    runId: String(row.run_id),
    kind: row.kind as RecordKind,
    key: String(row.key),
    parentId: row.parent_id === null || row.parent_id === undefined ? null : Number(row.parent_id),
    data: json(row.data),
    constitutionHash: (row.constitution_hash as string | null) ?? null,
    principleId: (row.principle_id as string | null) ?? null,
    modelId: (row.model_id as string | null) ?? null,
    sampling: json(row.sampling),
    seed: row.seed === null || row.seed === undefined ? null : Number(row.seed),
    createdAt: Number(row.created_at),
  };
}

/** The parameters of a records insert, in column order. */
export function recordValues(runId: string, record: NewRecord, now: number): unknown[] {
  return [
    runId,
    record.kind,
    record.key,
    record.parentId ?? null,
    JSON.stringify(record.data ?? null),
    record.constitutionHash ?? null,
    record.principleId ?? null,
    record.modelId ?? null,
    record.sampling === undefined ? null : JSON.stringify(record.sampling),
    record.seed ?? null,
    now,
  ];
}

export function emptyCounts(): Record<WorkStatus, number> {
  return { pending: 0, claimed: 0, done: 0, failed: 0 };
}
