import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../engine/rng.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { CausalLM } from "../models/model.js";
import { scoreCompletions } from "../models/score.js";
import { dpoConfigSchema, rewardConfigSchema, sftConfigSchema } from "./configs.js";
import { trainDpo } from "./dpo.js";
import { type PairExample, pairAccuracy, trainRewardModel } from "./reward.js";
import { trainSft } from "./sft.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-trainers-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const common = { model_name_or_path: "unused", train_file: "unused", save_steps: 0, progress: false, logging_steps: 5 };

function tinyModel(vocab = 16, seed = 0) {
  const config = gpt2ConfigSchema.parse({ vocab_size: vocab, n_positions: 32, n_embd: 32, n_layer: 1, n_head: 2 });
  return new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(seed)));
}

describe("SFT", () => {
  it("memorizes completions and ignores the prompt tokens in the loss", async () => {
    const model = tinyModel();
    // Prompt [p] → completion: 4 tokens that depend on p. lossMask marks the completion.
    const train = [1, 2, 3, 4].map((p) => ({ ids: [p, p + 4, p + 5, p + 6, 15], lossMask: [0, 1, 1, 1, 1] }));
    const config = sftConfigSchema.parse({
      ...common,
      output_dir: join(tmp, "sft"),
      learning_rate: 1e-2,
      per_device_train_batch_size: 4,
      max_steps: 60,
    });
    const { history } = await trainSft({ config, model, train });
    expect(history[0]?.loss).toBeGreaterThan(2);
    expect(history[history.length - 1]?.loss).toBeLessThan(0.1);
    // The completions are now likely; the prompt tokens were never trained to be predicted.
    const [logps] = await scoreCompletions(model, [[2]], [[6, 7, 8, 15]]);
    expect(Math.exp(Math.min(...(logps as Float32Array)))).toBeGreaterThan(0.8);
    expect(history[0]?.num_tokens).toBe(16);
    model.dispose();
  });
});

describe("reward model", () => {
  // The rule: the chosen response contains token 5 twice; the rejected one has none.
  function pairs(seed: number, n: number): PairExample[] {
    const rng = new Rng(seed);
    const noFive = () => {
      let t = rng.int(15);
      if (t >= 5) t += 1;
      return t;
    };
    return Array.from({ length: n }, () => {
      const prompt = [noFive(), noFive()];
      const chosen = [noFive(), noFive(), noFive(), noFive()];
      chosen[rng.int(4)] = 5;
      chosen[(chosen.indexOf(5) + 1 + rng.int(3)) % 4] = 5;
      return { chosen: [...prompt, ...chosen], rejected: [...prompt, noFive(), noFive(), noFive(), noFive()], margin: 0 };
    });
  }

  it("reaches ≥ 95% held-out accuracy on a learnable rule, logging TRL's metrics", async () => {
    const model = tinyModel(16, 1);
    const config = rewardConfigSchema.parse({
      ...common,
      output_dir: join(tmp, "rm"),
      learning_rate: 3e-3,
      per_device_train_batch_size: 16,
      num_train_epochs: 4,
    });
    const train = pairs(1, 256);
    const heldOut = pairs(2, 100);
    model.addScoreHead(new Rng(8));
    const before = await pairAccuracy(model, heldOut);
    const { history } = await trainRewardModel({ config, model, train, evalSet: heldOut });
    const accuracy = await pairAccuracy(model, heldOut);
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
    expect(before).toBeLessThan(0.9);
    for (const name of ["accuracy", "margin", "mean_reward", "min_reward", "max_reward"]) expect(history[0]).toHaveProperty([name]);
    model.dispose();
  });

  it("learns from soft AI-feedback labels (p = 0.9, a quarter of the pairs at p = 0.5)", async () => {
    const model = tinyModel(16, 2);
    const config = rewardConfigSchema.parse({
      ...common,
      output_dir: join(tmp, "rm-soft"),
      learning_rate: 3e-3,
      per_device_train_batch_size: 16,
      num_train_epochs: 3,
    });
    const train = pairs(3, 192).map((p, i) => ({ ...p, label: i % 4 === 0 ? 0.5 : 0.9 }));
    await trainRewardModel({ config, model, train });
    expect(await pairAccuracy(model, pairs(4, 100))).toBeGreaterThanOrEqual(0.9);
    model.dispose();
  });
});

describe("DPO", () => {
  it("raises the reward margin and accuracy on a toy preference set (sigmoid and IPO)", async () => {
    for (const lossType of ["sigmoid", "ipo"] as const) {
      const model = tinyModel(16, 3);
      const ref = model.clone();
      // Prefer completions that repeat the prompt token over ones that do not.
      const train = [1, 2, 3, 4, 6, 7, 8, 9].map((p) => ({ prompt: [p], chosen: [p, p, 15], rejected: [(p + 3) % 15, (p + 6) % 15, 15] }));
      const config = dpoConfigSchema.parse({
        ...common,
        output_dir: join(tmp, `dpo-${lossType}`),
        learning_rate: 5e-3,
        per_device_train_batch_size: 8,
        max_steps: 30,
        loss_type: lossType,
        logging_steps: 1,
      });
      const { history } = await trainDpo({ config, model, ref, train });
      const first = history[0] as Record<string, number>;
      const last = history[history.length - 1] as Record<string, number>;
      expect(first["rewards/margins"]).toBeCloseTo(0, 5); // policy = reference at step 1
      expect(last["rewards/margins"]).toBeGreaterThan(first["rewards/margins"] as number);
      expect(last["rewards/accuracies"]).toBe(1);
      expect(last.loss).toBeLessThan(first.loss as number);
      for (const name of ["rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected"]) expect(last).toHaveProperty([name]);
      model.dispose();
      ref.dispose();
    }
  });
});
