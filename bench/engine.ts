import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { runProbe } from "./probe.js";

type Probe = {
  threads: number;
  matmulGflops: Record<string, number>;
  train: { params: number; msPerStep: number; tokensPerSecond: number; finalLoss: number; steps: number; config: object };
};

function probe(threads: number): Probe {
  return runProbe<Probe>("engine-probe", threads);
}

export async function runEngineBench(): Promise<void> {
  const all = availableParallelism();
  const counts = all > 1 ? [1, all] : [1];
  console.log(`engine bench: ${cpus()[0]?.model ?? "cpu"}, ${all} cores, Node ${process.version}; thread counts ${counts.join(" and ")}`);
  // Two rounds, interleaved, keeping each thread count's better round: noise on a shared machine only ever slows a run down.
  const rounds = [0, 1].map(() =>
    counts.map((threads) => {
      console.log(`  measuring with ${threads} thread(s)...`);
      return probe(threads);
    }),
  );
  const probes = counts.map((_, i) => {
    const [a, b] = rounds.map((round) => round[i] as Probe) as [Probe, Probe];
    const better = (x: number, y: number) => Math.max(x, y);
    return {
      ...a,
      matmulGflops: Object.fromEntries(
        Object.keys(a.matmulGflops).map((n) => [n, better(a.matmulGflops[n] as number, b.matmulGflops[n] as number)]),
      ),
      train: a.train.tokensPerSecond >= b.train.tokensPerSecond ? a.train : b.train,
    };
  });
  const one = probes[0] as Probe;
  const many = probes[probes.length - 1] as Probe;
  const rows = [
    ...Object.keys(one.matmulGflops).map((n) => ({
      measure: `matmul ${n}x${n} (GFLOP/s)`,
      single: one.matmulGflops[n] as number,
      multi: many.matmulGflops[n] as number,
    })),
    { measure: "small GPT training (tokens/s)", single: one.train.tokensPerSecond, multi: many.train.tokensPerSecond },
  ];
  console.log(`\n| measure | 1 thread | ${many.threads} threads | speed-up |\n|---|---:|---:|---:|`);
  for (const row of rows)
    console.log(`| ${row.measure} | ${row.single.toFixed(1)} | ${row.multi.toFixed(1)} | ${(row.multi / row.single).toFixed(2)}x |`);
  const result = {
    suite: "engine",
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: all,
    rows,
    probes,
  };
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}engine.json`, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote bench/results/engine.json`);
}
