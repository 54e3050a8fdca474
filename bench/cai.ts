/** `npm run bench -- cai`: CAI pipeline throughput with one item at a time against concurrent items decoded as one batch. */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { runProbe } from "./probe.js";

type Result = {
  prompts: number;
  results: { pipeline: string; concurrency: number; items: number; seconds: number; itemsPerSecond: number; completionTokens: number }[];
};

export async function runCaiBench(): Promise<void> {
  const threads = availableParallelism();
  console.log(`cai bench: ${cpus()[0]?.model ?? "cpu"}, ${threads} threads, Node ${process.version}; sandbox base model, SQLite store`);
  const result = runProbe<Result>("cai-probe", threads);
  console.log("\n| pipeline | concurrency | items | seconds | items/s | completion tokens/s |\n|---|---:|---:|---:|---:|---:|");
  for (const r of result.results)
    console.log(
      `| ${r.pipeline} | ${r.concurrency} | ${r.items} | ${r.seconds.toFixed(1)} | ${r.itemsPerSecond.toFixed(2)} | ${(r.completionTokens / r.seconds).toFixed(0)} |`,
    );
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}cai.json`,
    `${JSON.stringify({ suite: "cai", date: new Date().toISOString(), threads, node: process.version, ...result }, null, 2)}\n`,
  );
  console.log("\nwrote bench/results/cai.json");
}
