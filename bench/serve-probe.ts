/**
 * One process of the serve bench: starts `precept serve` on loopback with the
 * reference small GPT-2 (byte vocabulary) and a store on SQLite and on an
 * embedded PostgreSQL, and measures:
 * - requests/s and generated tokens/s under 1, 8 and 32 concurrent clients
 *   (each client sends a fixed number of /v1/completions requests, 32 new tokens);
 * - store inserts/s (1000 work items in one enqueue) and claims/s (claim + complete, 8 at a time).
 * All traffic stays on 127.0.0.1 and every loop is bounded.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runServe } from "../src/cli/serve.js";
import { Rng } from "../src/engine/rng.js";
import { ByteTokenizer } from "../src/models/byte-tokenizer.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../src/models/gpt2.js";
import { saveModel } from "../src/models/io.js";
import { CausalLM } from "../src/models/model.js";
import { openStore } from "../src/store/store.js";
import { startPostgres } from "../test/helpers/postgres.js";

const dir = mkdtempSync(join(tmpdir(), "precept-bench-serve-"));
const tokenizer = new ByteTokenizer();
const config = gpt2ConfigSchema.parse({ vocab_size: tokenizer.vocabSize, n_positions: 128, n_embd: 128, n_layer: 4, n_head: 4 });
await saveModel(new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(0)), tokenizer), join(dir, "model"));
const server = await runServe({ model: join(dir, "model"), host: "127.0.0.1", port: 0, name: "bench" });
const url = `http://127.0.0.1:${server.port}/v1/completions`;

async function load(clients: number, requestsPerClient: number) {
  let tokens = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let r = 0; r < requestsPerClient; r++) {
        const reply = (await (
          await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ prompt: `client ${c} request ${r}:`, max_tokens: 32, temperature: 0 }),
          })
        ).json()) as {
          usage: { completion_tokens: number };
        };
        tokens += reply.usage.completion_tokens;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    clients,
    requests: clients * requestsPerClient,
    requestsPerSecond: (clients * requestsPerClient) / seconds,
    tokensPerSecond: tokens / seconds,
  };
}

await load(1, 2); // compile
const serve = [await load(1, 8), await load(8, 2), await load(32, 1)];
await server.close();

async function storeBench(location: string) {
  const store = await openStore(location);
  const run = `bench-${Date.now()}`;
  let started = performance.now();
  await store.enqueue(
    run,
    Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`, kind: "bench", payload: { i } })),
  );
  const insertsPerSecond = 1000 / ((performance.now() - started) / 1000);
  started = performance.now();
  let done = 0;
  for (;;) {
    const items = await store.claim(run, "bench", { limit: 8, leaseMs: 60_000 });
    if (items.length === 0) break;
    for (const item of items) if (await store.complete(item.id, "bench", null)) done++;
  }
  const claimsPerSecond = done / ((performance.now() - started) / 1000);
  await store.close();
  return { insertsPerSecond, claimsPerSecond };
}
const sqlite = await storeBench(join(dir, "bench.db"));
const postgres = await startPostgres();
const pg = await storeBench(postgres.url);
await postgres.stop();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ serve, store: { sqlite, postgres: pg } }));
