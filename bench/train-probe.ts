/**
 * One process of the train bench (see bench/train.ts), on the reference small
 * GPT (vocab 256, d=128, 4 layers, 4 heads): SFT tokens/s (batch 16 × 64),
 * reward-model pairs/s and DPO pairs/s (16 pairs of 64 tokens), and PPO
 * seconds per rollout batch (16 prompts of 16 tokens, 32 new tokens, 4 PPO
 * epochs) split into rollout and update. Prints one JSON line.
 */
import { Rng } from "../src/engine/rng.js";
import { engineThreads } from "../src/engine/threads.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../src/models/gpt2.js";
import { CausalLM } from "../src/models/model.js";
import { dpoConfigSchema, ppoConfigSchema, rewardConfigSchema, sftConfigSchema } from "../src/train/configs.js";
import { trainDpo } from "../src/train/dpo.js";
import { trainPpo } from "../src/train/ppo.js";
import { trainRewardModel } from "../src/train/reward.js";
import { trainSft } from "../src/train/sft.js";

const config = gpt2ConfigSchema.parse({ vocab_size: 256, n_positions: 128, n_embd: 128, n_layer: 4, n_head: 4 });
const model = () => new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(0)));
const rng = new Rng(1);
const tokens = (n: number) => Array.from({ length: n }, () => 1 + rng.int(250));
const out = "/tmp/precept-bench-train";
const common = {
  model_name_or_path: "bench",
  train_file: "bench",
  output_dir: out,
  save_steps: 0,
  progress: false,
  per_device_train_batch_size: 16,
};
const steps = Number(process.env.BENCH_TRAIN_STEPS ?? 6);

/** Seconds per step after the first (compiling) steps, from the loop's own step timing. */
async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
}

// Each run does 2 warm-up steps and then `steps` more; the difference isolates steady-state time.
async function perStep(run: (n: number) => Promise<unknown>): Promise<number> {
  const short = await timed(() => run(2));
  const long = await timed(() => run(2 + steps));
  return (long - short) / steps;
}

const sftExamples = Array.from({ length: 64 }, () => {
  const ids = tokens(64);
  return { ids, lossMask: ids.map(() => 1) };
});
const sftSeconds = await perStep((n) =>
  trainSft({ config: sftConfigSchema.parse({ ...common, max_steps: n }), model: model(), train: sftExamples }),
);

const pairs = Array.from({ length: 64 }, () => ({ chosen: tokens(64), rejected: tokens(64) }));
const rmSeconds = await perStep((n) =>
  trainRewardModel({ config: rewardConfigSchema.parse({ ...common, max_steps: n }), model: model(), train: pairs }),
);

const dpoPairs = Array.from({ length: 64 }, () => ({ prompt: tokens(32), chosen: tokens(32), rejected: tokens(32) }));
const dpoSeconds = await perStep((n) => {
  const policy = model();
  return trainDpo({ config: dpoConfigSchema.parse({ ...common, max_steps: n }), model: policy, ref: policy.clone(), train: dpoPairs });
});

const prompts = Array.from({ length: 64 }, () => tokens(16));
let rolloutSeconds = 0;
const ppoSeconds = await perStep(async (n) => {
  const policy = model();
  const started = performance.now();
  await trainPpo({
    config: ppoConfigSchema.parse({ ...common, response_length: 32, num_ppo_epochs: 4, total_episodes: 16 * n }),
    policy,
    ref: policy.clone(),
    prompts,
    reward: { fn: ({ responses }) => responses.map((r) => r.length / 32) },
  });
  rolloutSeconds = (performance.now() - started) / 1000;
});
console.log(
  JSON.stringify({
    threads: engineThreads,
    sft: { tokensPerSecond: (16 * 64) / sftSeconds, secondsPerStep: sftSeconds },
    rm: { pairsPerSecond: 16 / rmSeconds, secondsPerStep: rmSeconds },
    dpo: { pairsPerSecond: 16 / dpoSeconds, secondsPerStep: dpoSeconds },
    ppo: {
      secondsPerRolloutBatch: ppoSeconds,
      note: "rollout (generation + scoring) and 4 PPO epochs of updates over 16 prompts × 32 new tokens",
      lastRunSeconds: rolloutSeconds,
    },
  }),
);
