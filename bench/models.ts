/**
 * `npm run bench -- models`: forward and generation tokens/s of the reference
 * small GPT-2 and a 6-layer d=384 Llama-style model, with all cores; when
 * Debian's python3-torch is installed, the same measurements in PyTorch in the
 * same run, and the ratio Precept / PyTorch.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { BENCH_MODELS } from "./models-config.js";
import { runProbe } from "./probe.js";
import { blasEnv, PYTHON, torchAvailable } from "./torch-available.js";

type Result = { forwardTokensPerSecond: number; generationTokensPerSecond: Record<string, number> };

export async function runModelsBench(): Promise<void> {
  const threads = availableParallelism();
  console.log(`models bench: ${cpus()[0]?.model ?? "cpu"}, ${threads} threads, Node ${process.version}`);
  console.log("  measuring Precept...");
  const precept = runProbe<{ results: Record<string, Result & { params: number }> }>("models-probe", threads);
  let torch: { torch: string; results: Record<string, Result> } | null = null;
  if (torchAvailable()) {
    console.log("  measuring PyTorch (Debian python3-torch)...");
    const script = fileURLToPath(new URL("./torch_models.py", import.meta.url));
    torch = JSON.parse(
      execFileSync(PYTHON, [script, JSON.stringify(BENCH_MODELS), String(threads)], { encoding: "utf8", env: blasEnv() }).trim(),
    );
  } else {
    console.log("  skipped the PyTorch comparison: /usr/bin/python3 with torch is not installed (apt-get install python3-torch)");
  }
  const rows: { model: string; measure: string; precept: number; torch: number | null; ratio: number | null }[] = [];
  for (const [name, result] of Object.entries(precept.results)) {
    const other = torch?.results[name];
    const add = (measure: string, mine: number, theirs: number | undefined) =>
      rows.push({ model: name, measure, precept: mine, torch: theirs ?? null, ratio: theirs ? mine / theirs : null });
    add("forward tokens/s (16x64)", result.forwardTokensPerSecond, other?.forwardTokensPerSecond);
    for (const batch of Object.keys(result.generationTokensPerSecond)) {
      add(
        `generation tokens/s (${batch}, 64 new)`,
        result.generationTokensPerSecond[batch] as number,
        other?.generationTokensPerSecond[batch],
      );
    }
  }
  console.log(`\n| model | measure | Precept | PyTorch ${torch?.torch ?? "(skipped)"} | Precept / PyTorch |\n|---|---|---:|---:|---:|`);
  for (const r of rows) {
    console.log(
      `| ${r.model} | ${r.measure} | ${r.precept.toFixed(0)} | ${r.torch === null ? "-" : r.torch.toFixed(0)} | ${r.ratio === null ? "-" : `${r.ratio.toFixed(2)}x`} |`,
    );
  }
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}models.json`,
    `${JSON.stringify({ suite: "models", date: new Date().toISOString(), threads, node: process.version, torch: torch?.torch ?? null, rows, precept, pytorch: torch }, null, 2)}\n`,
  );
  console.log("\nwrote bench/results/models.json");
}
