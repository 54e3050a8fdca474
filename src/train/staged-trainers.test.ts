/**
 * The reward model, PPO and GRPO train block by block exactly as in one
 * jitted step: PRECEPT_STAGED=0|1 forces each path (train/memory.ts), and
 * the two runs' metrics must agree step by step (same seeds, same data).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tinyLlama } from "../../test/helpers/tiny-policy.js";
import { Rng } from "../engine/rng.js";
import { grpoConfigSchema, ppoConfigSchema, rewardConfigSchema } from "./configs.js";
import { trainGrpo } from "./group.js";
import { trainPpo } from "./ppo.js";
import { trainRewardModel } from "./reward.js";

const common = { model_name_or_path: "x", train_file: "x", save_steps: 0, progress: false, learning_rate: 1e-2 };
const PROMPTS = [
  [1, 2],
  [3, 4, 5],
  [6, 7],
  [8, 9, 10],
];
// Rewards responses for containing token 5.
const fives = ({ responses }: { responses: number[][] }) => responses.map((r) => r.filter((t) => t === 5).length / 4);

/** The same training run with the whole jitted step and the block-by-block one. */
async function bothWays(run: (dir: string) => Promise<Record<string, number>[]>) {
  const histories: Record<string, number>[][] = [];
  for (const staged of ["0", "1"]) {
    const dir = mkdtempSync(join(tmpdir(), "precept-staged-trainer-"));
    process.env.PRECEPT_STAGED = staged;
    try {
      histories.push(await run(dir));
    } finally {
      delete process.env.PRECEPT_STAGED;
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return histories as [Record<string, number>[], Record<string, number>[]];
}

function expectSame(whole: Record<string, number>[], staged: Record<string, number>[], keys: string[], steps: number) {
  expect(whole).toHaveLength(steps);
  expect(staged).toHaveLength(steps);
  for (const [i, record] of whole.entries()) {
    for (const key of keys) {
      expect(record[key], `step ${i + 1} ${key} is logged`).toBeTypeOf("number");
      expect(Math.abs((staged[i]?.[key] as number) - (record[key] as number)), `step ${i + 1} ${key}`).toBeLessThan(1e-4);
    }
  }
  // The steps differ from one another (the model moved, or new rollouts came).
  const first = keys[0] as string;
  expect(whole.at(-1)?.[first]).not.toBeCloseTo(whole[0]?.[first] as number, 4);
}

describe("trainers on the block-by-block step", () => {
  it("reward model (full fine-tuning: the embedding trains too)", async () => {
    const rng = new Rng(5);
    const tokens = (n: number) => Array.from({ length: n }, () => 1 + rng.int(32));
    const train = Array.from({ length: 6 }, () => ({ chosen: tokens(7), rejected: tokens(5) }));
    const [whole, staged] = await bothWays(async (dir) => {
      const model = tinyLlama(33);
      const config = rewardConfigSchema.parse({ ...common, output_dir: dir, per_device_train_batch_size: 2, max_steps: 3 });
      const { history } = await trainRewardModel({ config, model, train });
      model.dispose();
      return history;
    });
    expectSame(whole, staged, ["loss", "grad_norm", "accuracy", "margin"], 3);
  });

  it("PPO (value head on the policy, LoRA adapter)", async () => {
    const [whole, staged] = await bothWays(async (dir) => {
      const policy = tinyLlama(33);
      const ref = policy.clone();
      const config = ppoConfigSchema.parse({
        ...common,
        output_dir: dir,
        per_device_train_batch_size: 4,
        total_episodes: 8,
        response_length: 4,
        logging_steps: 1,
        lora: { r: 2, lora_alpha: 4 },
      });
      const { history } = await trainPpo({ config, policy, ref, prompts: PROMPTS, reward: { fn: fives } });
      policy.dispose();
      ref.dispose();
      return history;
    });
    expect(whole.length).toBeGreaterThan(1);
    expectSame(whole, staged, ["loss/policy_avg", "loss/value_avg", "policy/entropy_avg"], whole.length);
  });

  it("GRPO (full fine-tuning, KL to the reference)", async () => {
    const [whole, staged] = await bothWays(async (dir) => {
      const policy = tinyLlama(33);
      const ref = policy.clone();
      const config = grpoConfigSchema.parse({
        ...common,
        output_dir: dir,
        per_device_train_batch_size: 4,
        num_generations: 2,
        total_episodes: 12,
        response_length: 4,
        temperature: 1,
        beta: 0.04,
      });
      const { history } = await trainGrpo({ config, policy, ref, prompts: PROMPTS, reward: { fn: fives } });
      policy.dispose();
      ref.dispose();
      return history;
    });
    expectSame(whole, staged, ["loss", "kl", "entropy"], 3);
  });
});
