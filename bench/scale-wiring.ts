/**
 * `npm run bench -- scale-wiring`: every trainer (SFT full and LoRA, reward
 * model, DPO, PPO, GRPO) on the SmolLM2-135M shape (random weights, two tiny
 * examples, one optimizer step), each in a fresh process: it checks memory
 * and wiring at a real size (no 4 GiB error, finite metrics) and records
 * which step the memory estimate chose, not quality or speed. Long (minutes
 * per run on 2 cores: each compiles a 30-layer step), so it is a bench, not
 * part of `npm test`. `WIRING_ONLY=grpo,rm` keeps the runs whose label
 * contains one of the words; `WIRING_STAGED=1` forces the block-by-block
 * step everywhere (PRECEPT_STAGED=1); `WIRING_TOKENS=256` makes the examples that
 * long (16 by default), where the estimate itself picks the staged step. JSON in bench/results/scale-wiring.json
 * (merged into what earlier runs wrote).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const runs = [
  ["sft", "full"],
  ["sft", "lora"],
  ["rm", "full"],
  ["rm", "lora"],
  ["dpo", "full"],
  ["dpo", "lora"],
  ["ppo", "lora"],
  ["grpo", "full"],
  ["grpo", "lora"],
] as const;

export async function runScaleWiringBench(): Promise<void> {
  const only = process.env.WIRING_ONLY?.split(",").filter(Boolean);
  const forced = process.env.WIRING_STAGED === "1";
  const tokens = process.env.WIRING_TOKENS ? Number(process.env.WIRING_TOKENS) : undefined;
  const script = fileURLToPath(new URL("./scale-wiring-probe.ts", import.meta.url));
  const results: Record<string, unknown> = {};
  for (const [trainer, mode] of runs) {
    const label = `smollm2-135m ${trainer}-${mode}${tokens ? ` ${tokens} tokens` : ""}${forced ? " staged" : ""}`;
    if (only && !only.some((w) => label.includes(w))) continue;
    console.log(`  ${label}... (load average ${loadavg()[0]?.toFixed(1)})`);
    const env = { ...process.env, ...(forced ? { PRECEPT_STAGED: "1" } : {}) };
    try {
      const output = execFileSync(
        process.execPath,
        ["--import", "tsx", script, JSON.stringify({ shape: "smollm2-135m", trainer, mode, ...(tokens ? { tokens } : {}) })],
        {
          encoding: "utf8",
          env,
          stdio: ["ignore", "pipe", "inherit"],
          timeout: 30 * 60_000,
        },
      );
      results[label] = { ...JSON.parse(output.trim().split("\n").pop() as string), loadAverage: loadavg()[0] };
    } catch (error) {
      results[label] = { ok: false, error: String((error as Error).message).slice(0, 300) };
    }
    console.log(`    ${JSON.stringify(results[label]).slice(0, 400)}`);
  }
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const path = `${dir}scale-wiring.json`;
  const previous = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : {};
  writeFileSync(
    path,
    `${JSON.stringify({ suite: "scale-wiring", date: new Date().toISOString(), node: process.version, runs: { ...previous.runs, ...results } }, null, 2)}\n`,
  );
  console.log("\nwrote bench/results/scale-wiring.json");
}
