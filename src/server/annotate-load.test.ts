import { describe, expect, it } from "vitest";
import { call, startAnnotateServer } from "../../test/helpers/annotate-server.js";
import { storeEngines } from "../../test/helpers/store-engines.js";
import { createCampaign } from "../feedback/campaign.js";
import { addAnnotator } from "../feedback/users.js";
import { openStore } from "../store/store.js";

const ANNOTATORS = 20;
const ITEMS = 40;
const OVERLAP = 3;

const { engines } = storeEngines("precept-annotate-load-");

describe.each(engines)("%s: 20 annotators at once over loopback", (engine, location) => {
  it("stores every acknowledged answer exactly once, loses none, fills every item to its overlap, and stays responsive", async () => {
    const store = await openStore(location());
    const server = await startAnnotateServer(store);
    try {
      const items = Array.from({ length: ITEMS }, (_, i) => ({
        key: `i${i}`,
        prompt: `Prompt ${i}`,
        responses: [`A${i}`, `B${i}`, `C${i}`],
      }));
      const campaign = await createCampaign(store, `load-${engine}`, { overlap: OVERLAP, mode: "pick" }, items);
      const tokens: string[] = [];
      for (let a = 0; a < ANNOTATORS; a++) tokens.push((await addAnnotator(store, `load-${engine}-${a}`, [campaign.id])).token as string);
      const base = `${server.url}/api/campaigns/${campaign.id}`;

      const acknowledged: number[] = [];
      let duplicates = 0;
      const latencies: number[] = [];
      const probeStatuses: number[] = [];
      let running = true;
      // A probe that keeps asking a cheap question while the load runs: the server must keep answering it.
      const probe = (async () => {
        while (running) {
          const t = performance.now();
          probeStatuses.push((await call(`${server.url}/api/me`, tokens[0] as string)).status);
          latencies.push(performance.now() - t);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const started = performance.now();
      const load = Promise.all(
        tokens.map(async (token, a) => {
          for (let n = 0; ; n++) {
            const { task } = (await call(`${base}/task`, token)).json;
            if (!task) return;
            const body = { itemId: task.itemId, idempotencyKey: `annotator-${a}-answer-${n}`, ranking: [(a + n) % 3], reason: `by ${a}` };
            // Every answer is sent twice at once (a double click, a retried request): one is stored, one is a duplicate.
            const [first, second] = await Promise.all([
              call(`${base}/answers`, token, "POST", body),
              call(`${base}/answers`, token, "POST", body),
            ]);
            const statuses = [first.json.status, second.json.status].sort();
            expect(statuses).toEqual(["duplicate", "stored"]);
            expect(first.json.answerId).toBe(second.json.answerId);
            acknowledged.push(first.json.answerId);
            duplicates++;
          }
        }),
      );
      await load.finally(() => {
        running = false;
      });
      const seconds = (performance.now() - started) / 1000;
      await probe;
      expect(new Set(probeStatuses)).toEqual(new Set([200]));

      const stored = await store.answers(campaign.id, { includeUndone: true });
      expect(stored).toHaveLength(ITEMS * OVERLAP);
      expect(new Set(stored.map((s) => s.id))).toEqual(new Set(acknowledged));
      expect(new Set(stored.map((s) => `${s.annotatorId}/${s.itemId}`)).size).toBe(stored.length);
      const perItem = new Map<number, number>();
      for (const s of stored) perItem.set(s.itemId, (perItem.get(s.itemId) ?? 0) + 1);
      expect([...perItem.values()].every((n) => n === OVERLAP)).toBe(true);
      expect(perItem.size).toBe(ITEMS);
      latencies.sort((x, y) => x - y);
      const p95 = latencies[Math.floor(latencies.length * 0.95)] as number;
      console.log(
        `${engine}: ${stored.length} answers (+${duplicates} duplicate submissions) from ${ANNOTATORS} annotators in ${seconds.toFixed(2)} s = ${(stored.length / seconds).toFixed(0)} answers/s; /api/me p95 ${p95.toFixed(0)} ms over ${latencies.length} probes`,
      );
      expect(latencies.length).toBeGreaterThan(0);
      expect(p95).toBeLessThan(2000);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
