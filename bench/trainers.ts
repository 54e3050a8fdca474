/**
 * `npm run bench -- trainers`: optimizer steps/s of KTO, ORPO, SimPO and DPO
 * side by side, on the same model (GPT-2 shape, vocab 256, 2 layers × 64),
 * the same 64 preference pairs (prompt 8 tokens, completions 12) and batch 8
 * (KTO: the pairs unpaired, so 8 of its rows per batch as well). Each trainer
 * runs 2 and then 12 steps from a fresh model; steps/s is the 10 extra steps
 * over the extra time, so jit compilation (and DPO/KTO's one-off reference
 * pass) is left out. Writes bench/results/trainers.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/device.js";
import { Rng } from "../src/engine/rng.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../src/models/gpt2.js";
import { CausalLM } from "../src/models/model.js";
import { cpoConfigSchema, dpoConfigSchema, ktoConfigSchema, orpoConfigSchema, simpoConfigSchema } from "../src/train/configs.js";
import { trainCpo, trainOrpo } from "../src/train/cpo.js";
import { trainDpo } from "../src/train/dpo.js";
import { trainKto, unpair } from "../src/train/kto.js";

export async function runTrainersBench(): Promise<void> {
  await initEngine();
  const modelConfig = gpt2ConfigSchema.parse({ vocab_size: 256, n_positions: 64, n_embd: 64, n_layer: 2, n_head: 4 });
  const rng = new Rng(7);
  const tokens = (n: number) => Array.from({ length: n }, () => rng.int(255));
  const pairs = Array.from({ length: 64 }, () => ({ prompt: tokens(8), chosen: tokens(12), rejected: tokens(12) }));
  const tmp = mkdtempSync(join(tmpdir(), "precept-trainers-bench-"));
  const common = { model_name_or_path: "unused", train_file: "unused", save_steps: 0, progress: false, per_device_train_batch_size: 8 };
  const fresh = () => new CausalLM(gpt2 as never, modelConfig, initGpt2(modelConfig, new Rng(1)));
  const trainers: Record<string, (steps: number, dir: string) => Promise<unknown>> = {
    DPO: async (steps, dir) => {
      const model = fresh();
      const ref = model.clone();
      await trainDpo({ config: dpoConfigSchema.parse({ ...common, output_dir: dir, max_steps: steps }), model, ref, train: pairs });
      model.dispose();
      ref.dispose();
    },
    KTO: async (steps, dir) => {
      const model = fresh();
      const ref = model.clone();
      await trainKto({ config: ktoConfigSchema.parse({ ...common, output_dir: dir, max_steps: steps }), model, ref, train: unpair(pairs) });
      model.dispose();
      ref.dispose();
    },
    ORPO: async (steps, dir) => {
      const model = fresh();
      await trainOrpo({ config: orpoConfigSchema.parse({ ...common, output_dir: dir, max_steps: steps }), model, train: pairs });
      model.dispose();
    },
    SimPO: async (steps, dir) => {
      const model = fresh();
      await trainCpo({ config: simpoConfigSchema.parse({ ...common, output_dir: dir, max_steps: steps }), model, train: pairs });
      model.dispose();
    },
    "CPO (sigmoid)": async (steps, dir) => {
      const model = fresh();
      await trainCpo({ config: cpoConfigSchema.parse({ ...common, output_dir: dir, max_steps: steps }), model, train: pairs });
      model.dispose();
    },
  };
  const results: Record<string, number> = {};
  console.log("trainers bench: steps/s at batch 8 (8 pairs, or 8 KTO rows), GPT-2 shape vocab 256, 2 × 64");
  for (const [name, run] of Object.entries(trainers)) {
    let start = performance.now();
    await run(2, join(tmp, `${name}-2`));
    const short = performance.now() - start;
    start = performance.now();
    await run(12, join(tmp, `${name}-12`));
    const long = performance.now() - start;
    results[name] = 10 / ((long - short) / 1000);
    console.log(`  ${name.padEnd(14)} ${results[name]?.toFixed(2)} steps/s`);
  }
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/trainers.json", `${JSON.stringify({ stepsPerSecond: results }, null, 1)}\n`);
}
