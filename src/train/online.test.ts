import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tinyPolicy } from "../../test/helpers/tiny-policy.js";
import { numpy as np } from "../engine/jax.js";
import { readFloats } from "../engine/ownership.js";
import { Rng } from "../engine/rng.js";
import { treeRef } from "../engine/tree.js";
import { fullInput, scoreHead } from "../models/model.js";
import { grpoConfigSchema, ppoConfigSchema, rlooConfigSchema } from "./configs.js";
import { trainGrpo, trainRloo } from "./group.js";
import { scoreResponses, trainPpo, warnAboutDrift } from "./ppo.js";
import { layoutRollout } from "./rollout.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-online-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TARGET = 7;
const PROMPTS = Array.from({ length: 16 }, (_, i) => [1 + (i % 5), 2 + (i % 7)]);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const common = {
  model_name_or_path: "unused",
  train_file: "unused",
  response_length: 8,
  temperature: 1,
  learning_rate: 1e-2,
  save_steps: 0,
  progress: false,
};
/** Reward: the share of response tokens that are the target token (chance: 1/16). */
const targetFrequency = ({ responses }: { responses: number[][] }) =>
  responses.map((r) => r.filter((x) => x === TARGET).length / Math.max(1, r.length));

/** An observer's metric (the quickstart logs a gold reward this way): the share of observed responses with the target token. */
let observed = 0;
const observe = ({ responseTexts, scores }: { responseTexts: string[]; scores: number[] }) => {
  observed += responseTexts.length;
  return { "gold/score": scores.filter((s) => s > 0).length / scores.length };
};

async function ppoRun(klCoef: number) {
  const { policy, ref } = tinyPolicy();
  const config = ppoConfigSchema.parse({
    ...common,
    output_dir: join(tmp, `ppo-${klCoef}`),
    per_device_train_batch_size: 8,
    kl_coef: klCoef,
    total_episodes: 160,
    logging_steps: 1,
  });
  const { history } = await trainPpo({ config, policy, ref, prompts: PROMPTS, reward: { fn: targetFrequency }, observe });
  policy.dispose();
  ref.dispose();
  return history;
}

describe("PPO with a KL penalty", () => {
  it("raises a known reward while the KL stays bounded, and a larger KL coefficient keeps the policy closer", async () => {
    const loose = await ppoRun(0.05);
    const scores = loose.map((h) => h["objective/scores"] as number);
    expect(mean(scores.slice(-5))).toBeGreaterThan(mean(scores.slice(0, 3)) + 0.15);
    expect(Math.max(...loose.map((h) => h["objective/kl"] as number))).toBeLessThan(20);
    for (const name of [
      "objective/kl",
      "objective/entropy",
      "objective/rlhf_reward",
      "objective/non_score_reward",
      "policy/approxkl_avg",
      "policy/clipfrac_avg",
      "loss/policy_avg",
      "loss/value_avg",
      "val/clipfrac_avg",
      "val/ratio",
      "val/num_eos_tokens",
      "lr",
      "episode",
      "gold/score",
    ]) {
      expect(loose[0]).toHaveProperty([name]);
    }
    // The observer saw every response of every rollout: 160 episodes.
    expect(observed).toBe(160);
    const tight = await ppoRun(1.0);
    const finalKl = (h: Record<string, number>[]) => mean(h.slice(-5).map((r) => r["objective/kl"] as number));
    expect(finalKl(tight)).toBeLessThan(finalKl(loose) / 3);
  });

  it("warns when the KL goes negative or explodes and when response lengths drift", () => {
    expect(warnAboutDrift({ "objective/kl": -3, response_length: 10 }, 10, 1)).toHaveLength(1);
    expect(warnAboutDrift({ "objective/kl": 500, response_length: 10 }, 10, 1)).toHaveLength(1);
    expect(warnAboutDrift({ "objective/kl": 2, response_length: 31 }, 10, 1)[0]).toMatch(/reward hacking/);
    expect(warnAboutDrift({ "objective/kl": 2, response_length: 12 }, 10, 1)).toEqual([]);
  });

  it("scores responses with a reward model's score head at each row's last real token", async () => {
    const { policy } = tinyPolicy(3);
    const rewardModel = policy.clone();
    rewardModel.addScoreHead(new Rng(5));
    const rollout = layoutRollout(
      [[1, 2, 3], [4]],
      [
        [5, 6],
        [7, 8, 9],
      ],
      0,
      () => false,
    );
    const scores = await scoreResponses({ model: rewardModel }, rollout, policy);
    const alone = await readFloats(
      scoreHead(rewardModel, treeRef(rewardModel.params), fullInput([[4, 7, 8, 9]], 0, "right"), np.array([3], { dtype: np.int32 })),
    );
    expect(scores[1]).toBeCloseTo(alone[0] as number, 5);
    await expect(scoreResponses({ fn: () => [1] }, rollout, policy)).rejects.toThrow(/expected one finite number each/);
    policy.dispose();
    rewardModel.dispose();
  });
});

describe("group-baseline trainers with a verifier reward", () => {
  // A verifier: the answer is right when it contains the target token at least twice.
  const verifier = ({ responses }: { responses: number[][] }) => responses.map((r) => (r.filter((x) => x === TARGET).length >= 2 ? 1 : 0));
  const group = { ...common, per_device_train_batch_size: 16, num_generations: 8, total_episodes: 320 };

  it("GRPO (with a k3 KL term) takes the verifier's accuracy from near 0 to near 1", async () => {
    const { policy, ref } = tinyPolicy();
    const config = grpoConfigSchema.parse({ ...group, output_dir: join(tmp, "grpo"), beta: 0.04 });
    const { history } = await trainGrpo({ config, policy, ref, prompts: PROMPTS, reward: { fn: verifier } });
    expect(mean(history.slice(0, 2).map((h) => h.reward as number))).toBeLessThan(0.2);
    expect(mean(history.slice(-3).map((h) => h.reward as number))).toBeGreaterThan(0.8);
    expect(history[history.length - 1]?.kl).toBeGreaterThan(0);
    policy.dispose();
    ref.dispose();
  });

  it("RLOO does the same with the KL folded into the reward", async () => {
    const { policy, ref } = tinyPolicy();
    const config = rlooConfigSchema.parse({ ...group, output_dir: join(tmp, "rloo") });
    const { history } = await trainRloo({ config, policy, ref, prompts: PROMPTS, reward: { fn: verifier } });
    expect(mean(history.slice(-3).map((h) => h.reward as number))).toBeGreaterThan(0.8);
    policy.dispose();
    ref.dispose();
  });
});
