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

export interface Store {
  readonly dialect: "sqlite" | "postgres";
  /** Applies the migrations this database has not seen yet (idempotent). */
  migrate(): Promise<void>;
  /** Adds items to a run; items whose key the run already has are skipped. Returns how many were added. */
  enqueue(runId: string, items: NewWorkItem[]): Promise<number>;
  /** Claims up to `limit` pending (or expired) items for `worker` for `leaseMs`. */
  claim(runId: string, worker: string, options: { limit: number; leaseMs: number }): Promise<WorkItem[]>;
  /** Marks an item done with its result, if `worker` still holds the claim; false otherwise. */
  complete(id: number, worker: string, result: unknown): Promise<boolean>;
  /** Gives an item back (pending again, or failed after `maxAttempts`), if `worker` holds the claim. */
  release(id: number, worker: string, error?: string, maxAttempts?: number): Promise<boolean>;
  counts(runId: string): Promise<Record<WorkStatus, number>>;
  items(runId: string): Promise<WorkItem[]>;
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

export function emptyCounts(): Record<WorkStatus, number> {
  return { pending: 0, claimed: 0, done: 0, failed: 0 };
}
