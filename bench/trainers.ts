/**
 * `npm run bench -- trainers`: optimizer steps/s of KTO, ORPO, SimPO, online
 * DPO and DPO side by side, on the same model (GPT-2 shape, vocab 256, 2
 * layers × 64), the same 64 preference pairs (prompt 8 tokens, completions 12)
 * and batch 8 (KTO: the pairs unpaired, so 8 of its rows per batch as well;
 * online DPO: 8 of the prompts, two fresh 12-token samples each, ranked by a
 * judge in code or by a reward model of the same shape). Each trainer
 * runs 2 and then 12 steps from a fresh model, twice each (the faster try
 * counts); steps/s is the 10 extra steps over the extra time, so jit
 * compilation (and DPO/KTO's one-off reference pass) is left out. Also per
 * CPU-second of this process, the steadier number on a shared machine. Writes bench/results/trainers.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/device.js";
import { Rng } from "../src/engine/rng.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../src/models/gpt2.js";
import { CausalLM } from "../src/models/model.js";
import {
  cpoConfigSchema,
  dpoConfigSchema,
  ktoConfigSchema,
  onlineDpoConfigSchema,
  orpoConfigSchema,
  simpoConfigSchema,
} from "../src/train/configs.js";
import { trainCpo, trainOrpo } from "../src/train/cpo.js";
import { trainDpo } from "../src/train/dpo.js";
import { trainKto, unpair } from "../src/train/kto.js";
import { type ResponsePairs, trainOnlineDpo } from "../src/train/online-dpo.js";

export async function runTrainersBench(): Promise<void> {
  await initEngine();
  const modelConfig = gpt2ConfigSchema.parse({ vocab_size: 256, n_positions: 64, n_embd: 64, n_layer: 2, n_head: 4 });
  const rng = new Rng(7);
  const tokens = (n: number) => Array.from({ length: n }, () => rng.int(255));
  const pairs = Array.from({ length: 64 }, () => ({ prompt: tokens(8), chosen: tokens(12), rejected: tokens(12) }));
  const tmp = mkdtempSync(join(tmpdir(), "precept-trainers-bench-"));
  const common = { model_name_or_path: "unused", train_file: "unused", save_steps: 0, progress: false, per_device_train_batch_size: 8 };
  const prompts = pairs.map((p) => p.prompt);
  const onlineDpo = (dir: string, steps: number) =>
    onlineDpoConfigSchema.parse({ ...common, output_dir: dir, max_steps: steps, max_new_tokens: 12, temperature: 1 });
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
    "online DPO (judge fn)": async (steps, dir) => {
      const policy = fresh();
      const ref = policy.clone();
      // Prefers the sample with more even tokens: a rule in code, as a verifier would be.
      const even = (r: number[]) => r.filter((t) => t % 2 === 0).length;
      const judge = ({ first, second }: ResponsePairs) => first.map((a, i) => (even(a) >= even(second[i] as number[]) ? 1 : 0));
      await trainOnlineDpo({ config: onlineDpo(dir, steps), policy, ref, prompts, preference: { judge } });
      policy.dispose();
      ref.dispose();
    },
    "online DPO (reward model)": async (steps, dir) => {
      const policy = fresh();
      const ref = policy.clone();
      const rewardModel = fresh();
      rewardModel.addScoreHead(new Rng(2));
      await trainOnlineDpo({ config: onlineDpo(dir, steps), policy, ref, prompts, preference: { model: rewardModel } });
      policy.dispose();
      ref.dispose();
      rewardModel.dispose();
    },
    "CPO (sigmoid)": async (steps, dir) => {
      const model = fresh();
      await trainCpo({ config: cpoConfigSchema.parse({ ...common, output_dir: dir, max_steps: steps }), model, train: pairs });
      model.dispose();
    },
  };
  const results: Record<string, number> = {};
  console.log("trainers bench: steps/s at batch 8 (8 pairs, or 8 KTO rows), GPT-2 shape vocab 256, 2 × 64");
  // Wall time, and this process's CPU time (all its threads): on a shared machine the CPU time is
  // what the trainer itself spent, far less disturbed by other jobs than the wall clock.
  const timed = async (run: (steps: number, dir: string) => Promise<unknown>, steps: number, dir: string) => {
    rmSync(dir, { recursive: true, force: true });
    const start = performance.now();
    const cpu = process.cpuUsage();
    await run(steps, dir);
    const used = process.cpuUsage(cpu);
    return { wall: performance.now() - start, cpu: (used.user + used.system) / 1000 };
  };
  const perCpuSecond: Record<string, number> = {};
  for (const [name, run] of Object.entries(trainers)) {
    // The faster of two tries of each length: on a loaded machine the slower one mostly measures the other jobs.
    const tries = async (steps: number) => {
      const a = await timed(run, steps, join(tmp, `${name}-${steps}`));
      const b = await timed(run, steps, join(tmp, `${name}-${steps}`));
      return { wall: Math.min(a.wall, b.wall), cpu: Math.min(a.cpu, b.cpu) };
    };
    const short = await tries(2);
    const long = await tries(12);
    results[name] = 10 / ((long.wall - short.wall) / 1000);
    perCpuSecond[name] = 10 / ((long.cpu - short.cpu) / 1000);
    console.log(`  ${name.padEnd(26)} ${results[name]?.toFixed(2)} steps/s, ${perCpuSecond[name]?.toFixed(2)} steps per CPU-second`);
  }
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync("bench/results", { recursive: true });
  const note =
    "measured on a shared 2-core machine under heavy load from other jobs: wall-clock steps/s swung up to 10x between runs, steps per CPU-second (this process, all threads) is steadier; compare the rows of one run only";
  writeFileSync(
    "bench/results/trainers.json",
    `${JSON.stringify({ note, stepsPerSecond: results, stepsPerCpuSecond: perCpuSecond }, null, 1)}\n`,
  );
}
