/**
 * Works through a run's items in the store: claim up to `concurrency` items,
 * process them concurrently, mark each done. This is what makes the CAI
 * pipelines resumable and shareable: a killed process's claims expire after
 * the lease and are taken again; a rerun skips what is done; several
 * processes (or machines, on PostgreSQL) can work on one run at once.
 *
 * A claim records the claimer's host and pid: a process on the same host
 * that finds a claimer's pid dead (kill -9, a crash) takes its items at once
 * instead of waiting out the lease. Other hosts' claims still expire by lease.
 *
 * An item whose processing throws is given back and tried again; after
 * `retries` more failures in this invocation it is held until the end and
 * then left pending (not dropped) with its error, for the next invocation.
 * An error that trying again cannot fix (a refused option, invalid sampling
 * parameters: see `isPermanent`) is held at once, and reported as such.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { ProviderError } from "../providers/provider.js";
import type { Store, WorkItem } from "../store/store.js";

export type RunnerProgress = { done: number; total: number; failed: number; processedNow: number };

export type RunnerOptions = {
  store: Store;
  runId: string;
  process: (item: WorkItem) => Promise<unknown>;
  /** Items processed at once (default 4). */
  concurrency?: number;
  /** How long a claim lasts without a heartbeat before another worker may take the item (default 10 min); renewed every third of it while the item is worked on. */
  leaseMs?: number;
  /** Extra tries per item in this invocation after a failure (default 1). */
  retries?: number;
  /** Across invocations, an item that failed this many attempts is marked failed (default 5). */
  maxAttempts?: number;
  worker?: string;
  onProgress?: (progress: RunnerProgress) => void;
  /** Called while waiting for items another (perhaps dead) worker holds. */
  onWait?: (claimedElsewhere: number) => void;
};

export type RunnerResult = {
  /** Items done in this invocation. */
  processed: number;
  /** Items left pending after failing in this invocation. */
  leftPending: number;
  /** Items now marked failed for good. */
  failed: number;
  /** The last error per item that failed in this invocation; `permanent`: running again will not fix it. */
  errors: { key: string; error: string; permanent: boolean }[];
};

/**
 * Whether an error is one that the same call would meet again: a provider's
 * refusal that is not a rate limit, server or network fault (HTTP 4xx, an
 * invalid parameter, an unsupported feature) or a failed schema check.
 */
export function isPermanent(error: unknown): boolean {
  if (error instanceof ProviderError) return !error.retryable;
  const name = (error as { name?: string } | null)?.name;
  return name === "NotSupportedError" || name === "ZodError";
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a process with this pid runs on this host (EPERM: it exists, as another user). */
export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Ends the claims that workers on this host hold while their process is gone; returns how many items were freed. */
export async function expireDeadClaims(store: Store, runId: string, host = hostname()): Promise<number> {
  let freed = 0;
  for (const c of await store.claimers(runId)) {
    if (c.host === host && c.pid !== null && !pidAlive(c.pid)) freed += await store.expireClaims(runId, c.worker);
  }
  return freed;
}

export async function runWorkItems(options: RunnerOptions): Promise<RunnerResult> {
  const { store, runId } = options;
  const concurrency = options.concurrency ?? 4;
  const leaseMs = options.leaseMs ?? 10 * 60_000;
  const retries = options.retries ?? 1;
  const maxAttempts = options.maxAttempts ?? 5;
  // With no slot to claim into, the loop below would wait forever for "someone else's" items.
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a whole number ≥ 1, not ${concurrency}`);
  if (!(leaseMs > 0)) throw new Error(`the lease must be longer than 0 ms, not ${leaseMs}`);
  const host = hostname();
  const worker = options.worker ?? `${host}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const failures = new Map<number, number>();
  const held = new Map<number, { item: WorkItem; error: string; permanent: boolean }>();
  let processed = 0;

  const report = async () => {
    if (!options.onProgress) return;
    const counts = await store.counts(runId);
    const total = counts.pending + counts.claimed + counts.done + counts.failed;
    options.onProgress({ done: counts.done, total, failed: counts.failed, processedNow: processed });
  };
  await report();

  for (;;) {
    // Items held after failing may come back when their lease expires; they stay held, unprocessed.
    const claimed = await store.claim(runId, worker, { limit: concurrency + held.size, leaseMs, host, pid: process.pid });
    const batch: WorkItem[] = [];
    for (const item of claimed) {
      const h = held.get(item.id);
      if (h) held.set(item.id, { ...h, item });
      else batch.push(item);
    }
    if (batch.length === 0) {
      const counts = await store.counts(runId);
      const elsewhere = counts.claimed - held.size;
      if (elsewhere <= 0 && counts.pending === 0) break;
      // Held by a process of this host that has died: take its items now, not after the lease.
      if ((await expireDeadClaims(store, runId, host)) > 0) continue;
      // Another worker holds items: wait for it to finish them or for its lease to expire.
      options.onWait?.(elsewhere);
      await sleep(Math.min(1000, Math.max(50, leaseMs / 4)));
      continue;
    }
    // A heartbeat: the claims of items being worked on are renewed every third of a lease.
    const heartbeat = setInterval(
      () => {
        // A missed heartbeat only risks the lease; the completion still checks the claim.
        store
          .renew(
            batch.map((i) => i.id),
            worker,
            leaseMs,
          )
          .catch(() => {});
      },
      Math.max(50, leaseMs / 3),
    );
    await Promise.all(
      batch.map(async (item) => {
        try {
          const result = await options.process(item);
          if (await store.complete(item.id, worker, result)) processed++;
        } catch (error) {
          const message = (error as Error).message ?? String(error);
          const permanent = isPermanent(error);
          const count = (failures.get(item.id) ?? 0) + 1;
          failures.set(item.id, count);
          if (permanent || count > retries || item.attempts >= maxAttempts) held.set(item.id, { item, error: message, permanent });
          else await store.release(item.id, worker, message, maxAttempts);
        }
      }),
    ).finally(() => clearInterval(heartbeat));
    await report();
  }

  let failed = 0;
  for (const { item, error } of held.values()) {
    await store.release(item.id, worker, error, maxAttempts);
    if (item.attempts >= maxAttempts) failed++;
  }
  await report();
  return {
    processed,
    leftPending: held.size - failed,
    failed,
    errors: [...held.values()].map(({ item, error, permanent }) => ({ key: item.key, error, permanent })),
  };
}
