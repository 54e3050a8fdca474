/**
 * The store: one interface over SQLite (the embedded default, a file) and
 * PostgreSQL (for teams and many workers), implemented once over both
 * (sql-store.ts, with Kysely): versioned migrations, work claiming, records
 * with provenance, metrics, the provider cache and annotation.
 *
 * Work claiming: a pipeline enqueues items under a run (a key makes
 * enqueueing idempotent, so a restarted pipeline adds no duplicates); workers
 * claim items with a lease, then complete or release them. A claim held by a
 * dead worker expires and the item is claimed again; a late `complete` from a
 * worker that lost its claim is refused, so no item is done twice.
 */
import type { AnnotationStore } from "./annotation.js";
import { connect } from "./connect.js";
import { SqlStore } from "./sql-store.js";

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

/** What pipelines store (`guard_decision`: one screening by `precept guard`); `data` holds the record in TRL's field names where one exists. */
export type RecordKind = "prompt" | "generation" | "critique" | "revision" | "comparison" | "ai_label" | "annotation" | "guard_decision";

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

/** The store a caller that names none opens: `precept.db` in the working directory (the CLI's `--db` default). */
export const DEFAULT_STORE_LOCATION = "precept.db";

/**
 * `postgres://…` / `postgresql://…` opens PostgreSQL; anything else is a SQLite file path. The location is
 * the caller's to pass: the environment (PRECEPT_DB) is read at the CLI's edge (`--db`), never here.
 */
export async function openStore(location: string = DEFAULT_STORE_LOCATION): Promise<Store> {
  const connection = await connect(location);
  const store = withDescribedErrors(new SqlStore(connection), connection.describeError);
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  return store;
}

/**
 * The store with every method's errors passed through `describe` (SQLite's own messages, "attempt to write a
 * readonly database", "file is not a database", do not say which file; this is the one place that names it).
 */
function withDescribedErrors(store: Store, describe: (error: unknown) => unknown): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) =>
        (value.apply(target, args) as Promise<unknown>).catch((error: unknown) => Promise.reject(describe(error)));
    },
  });
}
