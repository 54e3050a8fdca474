import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tinyModel, tinyPolicy } from "../../test/helpers/tiny-policy.js";
import { treeToHost } from "../engine/tree.js";
import { grpoConfigSchema } from "./configs.js";
import { scaledAdvantages, trainGrpo } from "./group.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-grpo-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const PROMPTS = Array.from({ length: 16 }, (_, i) => [1 + (i % 5), 2 + (i % 7)]);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("GRPO at TRL parity", () => {
  it("scale_rewards: group and batch divide by that std (+1e-4), none only centres", () => {
    const rewards = [1, 0, 0, 0, 2, 2, 2, 2];
    const group = scaledAdvantages(rewards, 4, "group");
    expect(group.advantages[0]).toBeCloseTo(0.75 / (0.5 + 1e-4), 6); // group std (n − 1) = 0.5
    expect(group.advantages[4]).toBe(0);
    expect(group.stds.slice(4)).toEqual([0, 0, 0, 0]);
    const batch = scaledAdvantages(rewards, 4, "batch");
    const batchStd = Math.sqrt(rewards.reduce((a, r) => a + (r - 1.125) ** 2, 0) / 7);
    expect(batch.advantages[0]).toBeCloseTo(0.75 / (batchStd + 1e-4), 6);
    expect(scaledAdvantages(rewards, 4, "none").advantages.slice(0, 4)).toEqual([0.75, -0.25, -0.25, -0.25]);
  });

  it("sums weighted reward functions, logs each, and reports TRL's metric names (dapo, clip-higher, μ = 2)", async () => {
    const { policy, ref } = tinyPolicy();
    const seven = ({ responses }: { responses: number[][] }) =>
      responses.map((r) => r.filter((x) => x === 7).length / Math.max(1, r.length));
    const short = ({ responses }: { responses: number[][] }) => responses.map((r) => -r.length / 8);
    const grpoConfig = grpoConfigSchema.parse({
      model_name_or_path: "unused",
      train_file: "unused",
      output_dir: join(tmp, "multi"),
      response_length: 8,
      temperature: 1,
      learning_rate: 1e-2,
      save_steps: 0,
      progress: false,
      per_device_train_batch_size: 16,
      num_generations: 8,
      total_episodes: 320,
      num_iterations: 2,
      epsilon_high: 0.28,
      beta: 0.04,
      reward_weights: [1, 0.25],
    });
    expect(grpoConfig.loss_type).toBe("dapo");
    const { history } = await trainGrpo({
      config: grpoConfig,
      policy,
      ref,
      prompts: PROMPTS,
      reward: [{ fn: seven }, { name: "brevity", fn: short }],
    });
    const first = history[0] as Record<string, number>;
    for (const name of [
      "reward",
      "reward_std",
      "frac_reward_zero_std",
      "kl",
      "entropy",
      "completions/mean_length",
      "completions/min_length",
      "completions/max_length",
      "completions/clipped_ratio",
      "clip_ratio/low_mean",
      "clip_ratio/high_mean",
      "clip_ratio/region_mean",
      "num_tokens",
      "rewards/seven/mean",
      "rewards/seven/std",
      "rewards/brevity/mean",
      "rewards/brevity/std",
    ]) {
      expect(first, name).toHaveProperty([name]);
    }
    for (const h of history)
      expect(h.reward).toBeCloseTo((h["rewards/seven/mean"] as number) + 0.25 * (h["rewards/brevity/mean"] as number), 5);
    expect(history[1]?.num_tokens).toBeGreaterThan(first.num_tokens as number);
    // μ = 2: the second pass over a generation batch sees a ratio ≠ 1, so something can clip.
    const last = history.slice(-3);
    expect(mean(last.map((h) => h["rewards/seven/mean"] as number))).toBeGreaterThan(
      mean(history.slice(0, 2).map((h) => h["rewards/seven/mean"] as number)) + 0.2,
    );
    policy.dispose();
    ref.dispose();
  });

  it("mask_truncated_completions leaves completions without EOS out of the loss", async () => {
    // This policy has no tokenizer, so no EOS: every completion is truncated at response_length.
    const run = async (mask: boolean) => {
      const policy = tinyModel(0);
      const before = await treeToHost(policy.params);
      const grpoConfig = grpoConfigSchema.parse({
        model_name_or_path: "unused",
        train_file: "unused",
        output_dir: join(tmp, `mask-${mask}`),
        response_length: 6,
        temperature: 1,
        learning_rate: 1e-2,
        save_steps: 0,
        progress: false,
        per_device_train_batch_size: 8,
        num_generations: 4,
        max_steps: 2,
        total_episodes: 16,
        mask_truncated_completions: mask,
      });
      // Distinct for almost every sample, so every group has a spread and advantages ≠ 0.
      const reward = ({ responses }: { responses: number[][] }) => responses.map((r) => r.reduce((a, x) => a + x, 0));
      const { history } = await trainGrpo({ config: grpoConfig, policy, ref: policy.clone(), prompts: PROMPTS, reward: { fn: reward } });
      const after = await treeToHost(policy.params);
      let moved = 0;
      for (const [name, { data: values }] of before) {
        const now = after.get(name)?.data as Float32Array;
        for (let i = 0; i < values.length; i++) moved = Math.max(moved, Math.abs((now[i] as number) - (values[i] as number)));
      }
      policy.dispose();
      return { history, moved };
    };
    const masked = await run(true);
    expect(masked.history.every((h) => h["completions/clipped_ratio"] === 1)).toBe(true);
    expect(masked.history.every((h) => h.loss === 0)).toBe(true);
    expect(masked.moved).toBe(0);
    expect(masked.history).toHaveLength(2);
    const unmasked = await run(false);
    expect(unmasked.moved).toBeGreaterThan(1e-4);
  });
});
