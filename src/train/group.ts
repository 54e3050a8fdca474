/**
 * The group-baseline trainers: G responses per prompt, no value function.
 * - GRPO (Shao et al. 2024; TRL GRPOTrainer): advantage = (r − mean_group) /
 *   std_group, clipped surrogate, optional k3 KL term with weight β in the loss.
 * - RLOO (Ahmadian et al. 2024; TRL RLOOTrainer): the sequence KL to the
 *   reference is subtracted from the reward (β = kl_coef), advantage = r −
 *   mean of the other G − 1 rewards, same clipped surrogate.
 * Rewards come from reward functions or verifiers (code that checks an answer)
 * as well as reward models; GRPO takes several, summed with `reward_weights`.
 * GRPO has TRL's loss types (`dapo` by default: token-level normalisation,
 * no length bias; `grpo` is the original per-sequence mean), clip-higher
 * (`epsilon_high`), `scale_rewards` group | batch | none and
 * `mask_truncated_completions`, and logs TRL's metrics.
 */
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import { readNumber } from "../engine/ownership.js";
import { countParams, type ParamTree, treeRef } from "../engine/tree.js";
import { bucket } from "../models/batch.js";
import { klEstimate, rlooAdvantages } from "./advantages.js";
import type { GrpoConfig, RlooConfig } from "./configs.js";
import { TrainerCore } from "./core.js";
import { grpoLoss } from "./losses.js";
import { chooseStaged } from "./memory.js";
import { type OnlineTrainerInputs, penalizeMissingEos, type RewardSource, scoreResponses } from "./ppo.js";
import { checkResponseRoom, sampleRollout, scoreRolloutOnHost, scoreTokensFromHidden } from "./rollout.js";
import { type RolloutBatch, rolloutBatch } from "./rollout-batch.js";
import { headGradients, trainingEmbed } from "./sft.js";
import { type Tail, trainingStep } from "./staged.js";

type Kind = "grpo" | "rloo";

/** A reward function or model with the name its metrics are logged under (`rewards/<name>/mean`). */
export type NamedReward = RewardSource & { name?: string };
type GroupInputs<C> = Omit<OnlineTrainerInputs<C>, "reward"> & { reward: RewardSource | NamedReward[] };

export async function trainGrpo(inputs: GroupInputs<GrpoConfig>) {
  return trainGroup("grpo", inputs);
}

export async function trainRloo(inputs: OnlineTrainerInputs<RlooConfig>) {
  return trainGroup("rloo", inputs);
}

function rewardName(reward: NamedReward, index: number): string {
  if (reward.name) return reward.name;
  if ("fn" in reward && reward.fn.name && reward.fn.name !== "fn") return reward.fn.name;
  return "model" in reward ? `reward_model_${index}` : `reward_${index}`;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
/** torch's `Tensor.std`: the unbiased (n − 1) estimate. */
const std = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
};

/**
 * GRPO advantages as TRL computes them: r − mean of the group, divided by
 * (σ + 1e-4) with σ the group's std (`group`), the whole batch's (`batch`), or
 * not divided (`none`). Also each sample's σ (the group's for `none`), for
 * `reward_std` and `frac_reward_zero_std`.
 */
export function scaledAdvantages(rewards: number[], groupSize: number, scale: "group" | "batch" | "none") {
  const advantages: number[] = [];
  const stds: number[] = [];
  const batchStd = std(rewards);
  for (let start = 0; start < rewards.length; start += groupSize) {
    const group = rewards.slice(start, start + groupSize);
    const groupMean = mean(group);
    const sigma = scale === "batch" ? batchStd : std(group);
    for (const r of group) {
      advantages.push(scale === "none" ? r - groupMean : (r - groupMean) / (sigma + 1e-4));
      stds.push(sigma);
    }
  }
  return { advantages, stds };
}

async function trainGroup(kind: Kind, { config, policy, ref, prompts, reward, resume }: GroupInputs<GrpoConfig | RlooConfig>) {
  if (prompts.length === 0) throw new Error(`${kind}: no prompts`);
  checkResponseRoom(kind, "response_length", prompts, config.response_length, policy);
  const rewards = Array.isArray(reward) ? reward : [reward];
  if (rewards.length === 0) throw new Error(`${kind}: no reward functions`);
  const names = rewards.map(rewardName);
  const grpo = kind === "grpo" ? (config as GrpoConfig) : null;
  const weights = grpo?.reward_weights ?? rewards.map(() => 1);
  if (weights.length !== rewards.length) {
    throw new Error(`${kind}: ${weights.length} reward_weights for ${rewards.length} reward functions`);
  }
  const groupSize = config.num_generations;
  const promptsPerBatch = Math.max(1, Math.floor(config.per_device_train_batch_size / groupSize));
  const iterations = config.total_episodes
    ? Math.ceil(config.total_episodes / (promptsPerBatch * groupSize))
    : Math.ceil((config.num_train_epochs * prompts.length) / promptsPerBatch);
  const core = new TrainerCore(kind, policy, config, iterations * config.num_iterations);
  if (resume) await core.resume(resume);
  const beta = kind === "grpo" ? (config as GrpoConfig).beta : 0;
  const needsReference = kind === "rloo" ? (config as RlooConfig).kl_coef > 0 : beta > 0;

  type Batch = RolloutBatch & {
    oldLogprobs: JaxArray;
    refLogprobs: JaxArray;
    advantages: JaxArray;
  };
  const tail: Tail<Batch> = (params, hidden, batch) => {
    batch.positions.dispose();
    batch.keyMask.dispose();
    const gradients = headGradients(core.baseTrains);
    const { logprobs, entropy, values } = scoreTokensFromHidden(policy, params, hidden, batch.ids, config.temperature, gradients);
    values?.dispose();
    if (!needsReference) batch.refLogprobs.dispose();
    const { loss, metrics } = grpoLoss({
      logprobs,
      oldLogprobs: batch.oldLogprobs,
      ...(needsReference ? { refLogprobs: batch.refLogprobs } : {}),
      advantages: batch.advantages,
      mask: batch.mask,
      entropy,
      clipRange: config.epsilon,
      clipRangeHigh: grpo?.epsilon_high ?? config.epsilon,
      beta,
      // RLOO keeps the per-sequence mean it has always had.
      lossType: grpo?.loss_type ?? "grpo",
      maxCompletionLength: config.response_length,
    });
    return { loss, metrics };
  };
  const staged = chooseStaged(kind, policy, {
    rows: promptsPerBatch * groupSize,
    length: bucket(Math.max(...prompts.map((p) => p.length)) + config.response_length, 16),
    trainableParams: countParams(core.trainable),
    headTrains: core.baseTrains,
    accumulation: 1,
    lora: !core.baseTrains,
  });
  const update = trainingStep(policy, tail, { staged, embeddingTrains: core.baseTrains, embed: trainingEmbed(core.baseTrains) });

  const history: Record<string, number>[] = [];
  let tokensSeen = 0;
  core.startProgress();
  try {
    while (core.step < core.totalSteps) {
      // Prompts of this iteration, in a per-epoch order that a resume reproduces.
      const picked = core.takeNext(prompts, promptsPerBatch);
      // G consecutive samples of each prompt.
      const repeated = picked.flatMap((p) => Array.from({ length: groupSize }, () => p));
      const { rollout } = await sampleRollout(policy, repeated, {
        maxNewTokens: config.response_length,
        temperature: config.temperature,
        seed: core.rng.nextUint32(),
      });
      const rows = repeated.length;
      const width = rollout.width - 1;
      const old = await scoreRolloutOnHost(policy, rollout, config.temperature);
      const reference = needsReference ? await scoreRolloutOnHost(ref, rollout, config.temperature) : null;
      const perFunction: number[][] = [];
      for (const source of rewards) perFunction.push(await scoreResponses(source, rollout, policy));
      let scores = rollout.responses.map((_, b) => perFunction.reduce((sum, s, f) => sum + (weights[f] as number) * (s[b] as number), 0));
      scores = penalizeMissingEos(scores, rollout, config.missing_eos_penalty);
      const mask = rollout.responseMask;
      if (grpo?.mask_truncated_completions) {
        for (let b = 0; b < rows; b++) if (!rollout.endedWithEos[b]) mask.fill(0, b * width, (b + 1) * width);
      }
      const sequenceKl = scores.map((_, b) => {
        if (!reference) return 0;
        let sum = 0;
        for (let j = 0; j < width; j++) {
          const i = b * width + j;
          if (mask[i]) sum += klEstimate(old.logprobs[i] as number, reference.logprobs[i] as number, "k1");
        }
        return sum;
      });
      const shaped = kind === "rloo" ? scores.map((s, b) => s - (config as RlooConfig).kl_coef * (sequenceKl[b] as number)) : scores;
      const scaled = grpo ? scaledAdvantages(shaped, groupSize, grpo.scale_rewards) : null;
      const advantages = scaled ? scaled.advantages : rlooAdvantages(shaped, groupSize);
      const sums: Record<string, number> = {};
      for (let iteration = 0; iteration < config.num_iterations; iteration++) {
        const batch: Batch = {
          ...rolloutBatch(rollout),
          oldLogprobs: np.array(old.logprobs).reshape([rows, width]),
          refLogprobs: np.array(reference?.logprobs ?? old.logprobs).reshape([rows, width]),
          advantages: np.array(Float32Array.from(advantages)),
        };
        const [[loss, metrics], grads] = update(treeRef(core.trainable), treeRef(core.frozen), batch as never) as [
          [JaxArray, Record<string, JaxArray>],
          ParamTree,
        ];
        const lossValue = await readNumber(loss);
        sums.loss = (sums.loss ?? 0) + lossValue;
        for (const [name, value] of Object.entries(metrics)) sums[name] = (sums[name] ?? 0) + (await readNumber(value));
        await core.applyGradients(grads, lossValue);
      }
      const lengths = rollout.responses.map((r) => r.length);
      for (const a of rollout.attention) tokensSeen += a;
      const groupStds = Array.from({ length: rows / groupSize }, (_, g) => std(scores.slice(g * groupSize, (g + 1) * groupSize)));
      const stds = scaled?.stds ?? groupStds;
      const record: Record<string, number> = {
        reward: mean(scores),
        reward_std: mean(stds),
        frac_reward_zero_std: mean(stds.map((s) => (Math.abs(s) < 1e-8 ? 1 : 0))),
        "objective/kl": mean(sequenceKl),
        completion_length: mean(lengths),
        "completions/mean_length": mean(lengths),
        "completions/min_length": Math.min(...lengths),
        "completions/max_length": Math.max(...lengths),
        "completions/clipped_ratio": mean(rollout.endedWithEos.map((e) => (e ? 0 : 1))),
        num_tokens: tokensSeen,
        lr: core.learningRate,
        episode: core.step * promptsPerBatch * groupSize,
      };
      for (const [name, value] of Object.entries(sums)) record[name] = value / config.num_iterations;
      for (const [f, name] of names.entries()) {
        record[`rewards/${name}/mean`] = mean(perFunction[f] as number[]);
        record[`rewards/${name}/std`] = std(perFunction[f] as number[]);
      }
      history.push({ step: core.step, ...record });
      core.log(record);
      if (config.save_steps > 0 && core.step % config.save_steps < config.num_iterations && core.step < core.totalSteps) await core.save();
    }
    await core.finish();
  } finally {
    core.stopProgress();
    update.dispose();
  }
  return { history, core };
}
