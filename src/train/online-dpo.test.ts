import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tinyPolicy } from "../../test/helpers/tiny-policy.js";
import { Rng } from "../engine/rng.js";
import { generateTokens } from "../models/generate.js";
import type { CausalLM } from "../models/model.js";
import { onlineDpoConfigSchema } from "./configs.js";
import { type ResponsePairs, trainOnlineDpo } from "./online-dpo.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-online-dpo-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TARGET = 7;
const PROMPTS = Array.from({ length: 16 }, (_, i) => [1 + (i % 5), 2 + (i % 7)]);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const share = (r: number[]) => r.filter((x) => x === TARGET).length / Math.max(1, r.length);

const base = {
  model_name_or_path: "unused",
  train_file: "unused",
  max_new_tokens: 8,
  temperature: 1,
  save_steps: 0,
  progress: false,
  logging_steps: 1,
  per_device_train_batch_size: 8,
};

describe("online DPO", () => {
  it("learns what a judge prefers from fresh on-policy pairs, with TRL's metrics", async () => {
    const { policy, ref } = tinyPolicy();
    const config = onlineDpoConfigSchema.parse({ ...base, output_dir: join(tmp, "judge"), learning_rate: 1e-2, max_steps: 20 });
    expect(config.loss_type).toBe("sigmoid");
    let judged = 0;
    // A judge that prefers the response with more target tokens (a coin flip on ties).
    const judge = ({ first, second }: ResponsePairs) => {
      judged += first.length;
      return first.map((a, i) => {
        const b = second[i] as number[];
        return share(a) === share(b) ? 0.5 : share(a) > share(b) ? 1 : 0;
      });
    };
    const { history } = await trainOnlineDpo({ config, policy, ref, prompts: PROMPTS, preference: { judge } });
    expect(history).toHaveLength(20);
    expect(judged).toBe(20 * 8);
    for (const name of [
      "loss",
      "rewards/chosen",
      "rewards/rejected",
      "rewards/accuracies",
      "rewards/margins",
      "logps/chosen",
      "logps/rejected",
      "objective/kl",
      "objective/entropy",
      "objective/non_score_reward",
      "val/contain_eos_token",
      "beta",
      "learning_rate",
      "grad_norm",
    ]) {
      expect(history[0], name).toHaveProperty([name]);
    }
    // The first step's policy is the reference: log-ratios and KL are 0, the loss is log 2.
    expect(history[0]?.["objective/kl"]).toBeCloseTo(0, 4);
    expect(history[0]?.loss).toBeCloseTo(Math.log(2), 4);
    // The policy now samples the target far more often than at the start (chance: 1/16).
    const before = await sampleShare(ref);
    const after = await sampleShare(policy);
    console.log(`online-dpo: target share ${before.toFixed(3)} → ${after.toFixed(3)}`);
    expect(after).toBeGreaterThan(before + 0.2);
    expect(history[history.length - 1]?.["objective/kl"]).toBeGreaterThan(0);
    policy.dispose();
    ref.dispose();
  });

  it("ranks pairs with a reward model: the chosen response always has the higher score", async () => {
    const { policy, ref } = tinyPolicy(1);
    const rewardModel = policy.clone();
    rewardModel.addScoreHead(new Rng(5));
    const config = onlineDpoConfigSchema.parse({ ...base, output_dir: join(tmp, "rm"), learning_rate: 1e-3, max_steps: 3 });
    const { history } = await trainOnlineDpo({ config, policy, ref, prompts: PROMPTS, preference: { model: rewardModel } });
    for (const h of history) {
      expect(h["objective/scores_margin"]).toBeGreaterThanOrEqual(0);
      expect(h).toHaveProperty(["objective/scores"]);
      expect(h["objective/rlhf_reward"]).toBeCloseTo((h["objective/scores"] as number) - 0.1 * (h["objective/kl"] as number), 5);
    }
    policy.dispose();
    ref.dispose();
    rewardModel.dispose();
  });

  it("refuses a judge that does not return one probability per pair", async () => {
    const { policy, ref } = tinyPolicy();
    const config = onlineDpoConfigSchema.parse({ ...base, output_dir: join(tmp, "bad"), max_steps: 1 });
    await expect(trainOnlineDpo({ config, policy, ref, prompts: PROMPTS, preference: { judge: () => [2] } })).rejects.toThrow(
      /expected one probability in \[0, 1\] each/,
    );
    policy.dispose();
    ref.dispose();
  });
});

/** The share of target tokens in samples (temperature 1) of a model. */
async function sampleShare(model: CausalLM): Promise<number> {
  const out = await generateTokens(model, PROMPTS, { maxNewTokens: 8, temperature: 1, seed: 99 });
  return mean(out.map((g) => share(g.tokens)));
}
