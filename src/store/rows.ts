/** Rows as both engines return them (JSON columns as text, see connect.ts) → the store's types. */
import type { Claimer, RecordKind, RunSummary, StoredRecord, WorkItem, WorkStatus } from "./store.js";

/** CLAIMERS_SQL rows → `Claimer`s. */
export function toClaimers(rows: Record<string, unknown>[]): Claimer[] {
  return rows.map((r) => ({
    worker: String(r.claimed_by),
    host: (r.claimed_host as string | null) ?? null,
    pid: r.claimed_pid === null || r.claimed_pid === undefined ? null : Number(r.claimed_pid),
    items: Number(r.n),
  }));
}

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

/** A work_items row → `WorkItem`. */
export function toWorkItem(row: Record<string, unknown>): WorkItem {
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

/** JSON columns arrive as text from both engines (see connect.ts). */
const json = (v: unknown) => (v === null || v === undefined ? null : JSON.parse(v as string));

/** A records row → `StoredRecord`. */
export function toStoredRecord(row: Record<string, unknown>): StoredRecord {
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

export function emptyCounts(): Record<WorkStatus, number> {
  return { pending: 0, claimed: 0, done: 0, failed: 0 };
}
