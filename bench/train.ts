/**
 * `npm run bench -- train`: SFT tokens/s, reward-model and DPO pairs/s, and
 * PPO seconds per rollout batch for the reference small GPT, with all cores;
 * with Debian's python3-torch installed, the same SFT step in PyTorch in the
 * same run and the ratio Precept / PyTorch.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { runProbe } from "./probe.js";
import { blasEnv, PYTHON, torchAvailable } from "./torch-available.js";

export async function runTrainBench(): Promise<void> {
  const threads = availableParallelism();
  console.log(`train bench: ${cpus()[0]?.model ?? "cpu"}, ${threads} threads, Node ${process.version}`);
  console.log("  measuring Precept (SFT, RM, DPO, PPO)...");
  // biome-ignore lint/suspicious/noExplicitAny: the probe's JSON, read field by field below
  const precept = runProbe<any>("train-probe", threads);
  let torch: { torch: string; tokensPerSecond: number } | null = null;
  if (torchAvailable()) {
    console.log("  measuring the same SFT step in PyTorch (Debian python3-torch)...");
    torch = JSON.parse(
      execFileSync(PYTHON, [fileURLToPath(new URL("./torch_sft.py", import.meta.url)), String(threads), "8"], {
        encoding: "utf8",
        env: blasEnv(),
      }).trim(),
    );
  } else {
    console.log("  skipped the PyTorch comparison: /usr/bin/python3 with torch is not installed (apt-get install python3-torch)");
  }
  const rows = [
    ["SFT tokens/s (16 × 64)", precept.sft.tokensPerSecond, torch?.tokensPerSecond ?? null],
    ["reward model pairs/s (16 pairs × 64 tokens)", precept.rm.pairsPerSecond, null],
    ["DPO pairs/s (16 pairs, 32 + 32 tokens)", precept.dpo.pairsPerSecond, null],
    ["PPO seconds per rollout batch (16 prompts, 32 new tokens, 4 epochs)", precept.ppo.secondsPerRolloutBatch, null],
  ] as const;
  console.log(`\n| measure | Precept | PyTorch ${torch?.torch ?? "(skipped)"} | Precept / PyTorch |\n|---|---:|---:|---:|`);
  for (const [name, mine, theirs] of rows) {
    console.log(
      `| ${name} | ${mine.toFixed(mine < 10 ? 2 : 0)} | ${theirs === null ? "-" : theirs.toFixed(0)} | ${theirs === null ? "-" : `${(mine / theirs).toFixed(2)}x`} |`,
    );
  }
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}train.json`,
    `${JSON.stringify({ suite: "train", date: new Date().toISOString(), threads, node: process.version, precept, pytorch: torch }, null, 2)}\n`,
  );
  console.log("\nwrote bench/results/train.json");
}
