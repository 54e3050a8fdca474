/**
 * `npm run bench -- scale`: real model shapes with random weights
 * (SmolLM2-135M, SmolLM2-360M, Qwen2.5-0.5B, GPT-2 124M): forward and
 * generation tokens/s, SFT step tokens/s (full fine-tuning for the 135M and
 * GPT-2 shapes, LoRA for all), DPO pairs/s (LoRA, policy + reference), with
 * the wasm heap and process RSS of each; every measurement in its own
 * process. With Debian's python3-torch, the PyTorch side in the same run,
 * with the BLAS it uses and its GEMM rate (both sides with the same OpenBLAS
 * core type and no OPENBLAS_L2_SIZE, for these commands only: blasEnv). JSON in bench/results/scale.json.
 *
 * Each training figure is one optimizer step after a warm-up step, so the
 * whole bench is long on 2 cores; `SCALE_ONLY=qwen,sft-full` keeps the runs
 * whose label contains one of the given words.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { SHAPES, type ShapeName } from "./scale-shapes.js";
import { blasEnv, openblasCoreType, PYTHON, torchAvailable } from "./torch-available.js";

type Run = { label: string; script: "scale-probe" | "memory-probe"; arg: string };
const shapes = Object.keys(SHAPES) as ShapeName[];
const train = (shape: ShapeName, trainer: "sft" | "dpo", mode: "full" | "lora", batch: number, seq: number): Run => ({
  label: `${shape} ${trainer}-${mode} ${batch}x${seq}`,
  script: "memory-probe",
  arg: JSON.stringify({ shape, trainer, mode, batch, seq, steps: 1 }),
});
const runs: Run[] = [
  ...shapes.map((shape): Run => ({ label: `${shape} forward+generate`, script: "scale-probe", arg: shape })),
  train("smollm2-135m", "sft", "full", 4, 256),
  train("gpt2-124m", "sft", "full", 4, 256),
  ...shapes.map((shape) => train(shape, "sft", "lora", 2, 256)),
  train("smollm2-135m", "dpo", "lora", 2, 256),
  train("qwen2.5-0.5b", "dpo", "lora", 2, 256),
];
const only = process.env.SCALE_ONLY?.split(",").filter(Boolean);
const selected = only ? runs.filter((r) => only.some((w) => r.label.includes(w))) : runs;

function probe(run: Run): Record<string, unknown> {
  const script = fileURLToPath(new URL(`./${run.script}.ts`, import.meta.url));
  const started = performance.now();
  try {
    const output = execFileSync(process.execPath, ["--import", "tsx", script, run.arg], {
      encoding: "utf8",
      env: blasEnv(),
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 40 * 60_000,
    });
    return { ...JSON.parse(output.trim().split("\n").pop() as string), wallSeconds: (performance.now() - started) / 1000 };
  } catch (error) {
    return { ok: false, error: String((error as Error).message).slice(0, 300), wallSeconds: (performance.now() - started) / 1000 };
  }
}

export async function runScaleBench(): Promise<void> {
  const threads = availableParallelism();
  console.log(`scale bench: ${cpus()[0]?.model ?? "cpu"}, ${threads} threads, Node ${process.version}`);
  const precept: Record<string, Record<string, unknown>> = {};
  for (const run of selected) {
    console.log(`  ${run.label}...`);
    precept[run.label] = probe(run);
    console.log(`    ${JSON.stringify(precept[run.label])}`);
  }
  let pytorch: unknown = null;
  if (torchAvailable() && process.env.SCALE_TORCH !== "0") {
    console.log("  PyTorch (Debian python3-torch), same shapes...");
    const env = blasEnv();
    // The shapes (and full SFT runs) this run measured, so both sides cover the same ground.
    const measured = shapes.filter((s) => selected.some((r) => r.label.startsWith(`${s} `)));
    const specs = Object.fromEntries(measured.map((s) => [s, { config: SHAPES[s] }]));
    const sft = Object.fromEntries(
      (["smollm2-135m", "gpt2-124m"] as const)
        .filter((s) => selected.some((r) => r.label === `${s} sft-full 4x256`))
        .map((s) => [s, [4, 256]]),
    );
    try {
      pytorch = JSON.parse(
        execFileSync(
          PYTHON,
          [fileURLToPath(new URL("./torch_scale.py", import.meta.url)), JSON.stringify(specs), String(threads), JSON.stringify(sft)],
          { encoding: "utf8", env, timeout: 60 * 60_000 },
        ).trim(),
      );
      const t = pytorch as { blas: string; gemmGflops1024: number };
      console.log(`    BLAS: ${t.blas}; 1024² fp32 GEMM ${t.gemmGflops1024.toFixed(0)} GFLOP/s`);
    } catch (error) {
      pytorch = { error: String((error as Error).message).slice(0, 300) };
    }
  } else if (process.env.SCALE_TORCH === "0") {
    console.log("  skipped PyTorch (SCALE_TORCH=0)");
  } else {
    console.log("  skipped PyTorch: /usr/bin/python3 with torch is not installed (apt-get install python3-torch libopenblas0-pthread)");
  }
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  // Runs of a partial bench (SCALE_ONLY) are merged into what earlier runs wrote.
  const path = `${dir}scale.json`;
  const previous = existsSync(path) && only ? JSON.parse(readFileSync(path, "utf8")) : {};
  const previousTorch = (previous.pytorch ?? {}) as { results?: Record<string, unknown> };
  const torchNow = pytorch as { results?: Record<string, unknown> } | null;
  const mergedTorch = torchNow?.results
    ? { ...previousTorch, ...torchNow, results: { ...previousTorch.results, ...torchNow.results } }
    : (previous.pytorch ?? pytorch);
  writeFileSync(
    path,
    `${JSON.stringify(
      {
        suite: "scale",
        date: new Date().toISOString(),
        threads,
        node: process.version,
        openblasCoreType: openblasCoreType(),
        matmul: process.env.PRECEPT_MATMUL ?? "auto",
        precept: { ...previous.precept, ...precept },
        pytorch: mergedTorch,
      },
      null,
      2,
    )}\n`,
  );
  console.log("\nwrote bench/results/scale.json");
}
