/** `npm run bench -- serve`: `precept serve` throughput under 1, 8 and 32 concurrent clients, and store inserts/claims on SQLite and PostgreSQL. */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { runProbe } from "./probe.js";

type Result = {
  serve: { clients: number; requests: number; requestsPerSecond: number; tokensPerSecond: number }[];
  store: Record<string, { insertsPerSecond: number; claimsPerSecond: number }>;
};

export async function runServeBench(): Promise<void> {
  const threads = availableParallelism();
  console.log(
    `serve bench: ${cpus()[0]?.model ?? "cpu"}, ${threads} threads, Node ${process.version}; small GPT-2, 32 new tokens per request, loopback only`,
  );
  const result = runProbe<Result>("serve-probe", threads);
  console.log("\n| concurrent clients | requests | requests/s | generated tokens/s |\n|---:|---:|---:|---:|");
  for (const r of result.serve)
    console.log(`| ${r.clients} | ${r.requests} | ${r.requestsPerSecond.toFixed(2)} | ${r.tokensPerSecond.toFixed(0)} |`);
  console.log("\n| store | inserts/s | claims/s (claim + complete) |\n|---|---:|---:|");
  for (const [name, r] of Object.entries(result.store))
    console.log(`| ${name} | ${r.insertsPerSecond.toFixed(0)} | ${r.claimsPerSecond.toFixed(0)} |`);
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}serve.json`,
    `${JSON.stringify({ suite: "serve", date: new Date().toISOString(), threads, node: process.version, ...result }, null, 2)}\n`,
  );
  console.log("\nwrote bench/results/serve.json");
}
