/**
 * A worker process for the store concurrency test: claims items of a run in
 * batches, "does" each one, completes it, and prints the id of every item
 * whose completion the store accepted. Exits when nothing is left to do.
 */
import { openStore } from "../../src/store/store.js";

const [location, runId, worker, leaseMs, delayMs = "1"] = process.argv.slice(2) as [string, string, string, string, string?];
const store = await openStore(location);
for (;;) {
  const items = await store.claim(runId, worker, { limit: 8, leaseMs: Number(leaseMs) });
  if (items.length === 0) {
    const counts = await store.counts(runId);
    if (counts.pending === 0 && counts.claimed === 0) break;
    await new Promise((r) => setTimeout(r, 50)); // others hold claims that may still expire
    continue;
  }
  for (const item of items) {
    await new Promise((r) => setTimeout(r, Number(delayMs)));
    if (await store.complete(item.id, worker, { by: worker })) process.stdout.write(`${item.id}\n`);
  }
}
await store.close();
