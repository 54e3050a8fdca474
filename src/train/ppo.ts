/**
 * PPO for language models (Ziegler et al. 2019, Ouyang et al. 2022; TRL's
 * PPOTrainer). Each iteration:
 *   1. sample responses to a batch of prompts from the policy (temperature);
 *   2. score them: the policy's log-probs and values, the reference model's
 *      log-probs, and a sequence score from a reward model or a function;
 *   3. per-token rewards r_t = −β·KL_t plus the score on the last token
 *      (minus a penalty when the response never ended);
 *   4. GAE advantages (γ, λ), whitened; returns = advantages + values;
 *   5. `num_ppo_epochs` passes of clipped-surrogate + clipped-value updates
 *      over `num_mini_batches` minibatches.
 * The value function is a head on the policy (`v_head`, TRL's
 * AutoModelForCausalLMWithValueHead layout), trained with weight `vf_coef`.
 */
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import { readNumber } from "../engine/ownership.js";
import { Rng } from "../engine/rng.js";
import { countParams, type ParamTree, treeRef } from "../engine/tree.js";
import { bucket } from "../models/batch.js";
import type { CausalLM } from "../models/model.js";
import { scoreSequences } from "../models/score.js";
import { gae, ppoTokenRewards, whiten } from "./advantages.js";
import type { PpoConfig } from "./configs.js";
import { TrainerCore } from "./core.js";
import { AdaptiveKLController, FixedKLController, type KLController } from "./kl-controller.js";
import { ppoPolicyLoss, ppoValueLoss } from "./losses.js";
import { chooseStaged } from "./memory.js";
import { checkResponseRoom, pickRows, type Rollout, sampleRollout, scoreRolloutOnHost, scoreTokensFromHidden } from "./rollout.js";
import { type RolloutBatch, rolloutBatch } from "./rollout-batch.js";
import { headGradients, trainingEmbed } from "./sft.js";
import { type Tail, trainingStep } from "./staged.js";

/** A sequence score for each response; prompts and responses are token ids, texts decoded when there is a tokenizer. */
export type RewardFunction = (batch: {
  prompts: number[][];
  responses: number[][];
  promptTexts: string[] | null;
  responseTexts: string[] | null;
}) => number[] | Promise<number[]>;

/** A reward model (with a score head) or a function. */
export type RewardSource = { model: CausalLM } | { fn: RewardFunction };

export type OnlineTrainerInputs<C> = {
  config: C;
  policy: CausalLM;
  /** Frozen reference for the KL penalty (usually the SFT model). */
  ref: CausalLM;
  /** Prompts as token ids. */
  prompts: number[][];
  reward: RewardSource;
  resume?: string;
  /**
   * Extra metrics per rollout, logged with the trainer's own (e.g. a gold
   * reward that must never be a training signal, for the over-optimization
   * picture of proxy and gold reward against KL).
   */
  observe?: (rollout: {
    promptTexts: string[];
    responseTexts: string[];
    scores: number[];
  }) => Record<string, number> | Promise<Record<string, number>>;
};

/** A rollout's prompts and responses as text (empty strings without a tokenizer). */
export function decodeRollout(policy: CausalLM, rollout: Rollout): { promptTexts: string[]; responseTexts: string[] } {
  const decode = (ids: number[]) => policy.tokenizer?.decode(ids, { skipSpecialTokens: true }) ?? "";
  return { promptTexts: rollout.prompts.map(decode), responseTexts: rollout.responses.map(decode) };
}

/** Scores of a rollout: the reward model's score head at the last real token, or the reward function. */
export async function scoreResponses(reward: RewardSource, rollout: Rollout, policy: CausalLM): Promise<number[]> {
  if ("fn" in reward) {
    const texts = policy.tokenizer ? decodeRollout(policy, rollout) : null;
    const scores = await reward.fn({
      prompts: rollout.prompts,
      responses: rollout.responses,
      promptTexts: texts?.promptTexts ?? null,
      responseTexts: texts?.responseTexts ?? null,
    });
    if (scores.length !== rollout.prompts.length || scores.some((s) => !Number.isFinite(s))) {
      throw new Error(
        `the reward function returned ${JSON.stringify(scores).slice(0, 200)} for ${rollout.prompts.length} responses: expected one finite number each`,
      );
    }
    return scores;
  }
  return scoreSequences(
    reward.model,
    rollout.prompts.map((p, i) => [...p, ...(rollout.responses[i] as number[])]),
  );
}

/** TRL's `missing_eos_penalty`: subtracted from the score of each response that never produced EOS. */
export function penalizeMissingEos(scores: number[], rollout: Rollout, penalty: number | null): number[] {
  return penalty === null ? scores : scores.map((s, i) => (rollout.endedWithEos[i] ? s : s - penalty));
}

/** Mean of `values` where `mask` is set, per row, then over rows. */
function meanPerRow(values: Float32Array, mask: Float32Array, rows: number, width: number): number {
  let total = 0;
  for (let b = 0; b < rows; b++) {
    let sum = 0;
    for (let j = 0; j < width; j++) sum += (values[b * width + j] as number) * (mask[b * width + j] as number);
    total += sum;
  }
  return total / rows;
}

export async function trainPpo({ config, policy, ref, prompts, reward, resume, observe }: OnlineTrainerInputs<PpoConfig>) {
  if (prompts.length === 0) throw new Error("ppo: no prompts");
  checkResponseRoom("ppo", "response_length", prompts, config.response_length, policy);
  if (!policy.hasValueHead) policy.addValueHead(new Rng(config.seed + 1));
  const batchSize = config.per_device_train_batch_size;
  const iterations = config.total_episodes
    ? Math.ceil(config.total_episodes / batchSize)
    : Math.ceil((config.num_train_epochs * prompts.length) / batchSize);
  const updatesPerIteration = config.num_ppo_epochs * config.num_mini_batches;
  const core = new TrainerCore("ppo", policy, config, iterations * updatesPerIteration);
  if (resume) await core.resume(resume);
  const kl: KLController = config.adaptive_kl
    ? new AdaptiveKLController({ initKlCoef: (core.extra.kl_coef as number | undefined) ?? config.kl_coef, ...config.adaptive_kl })
    : new FixedKLController(config.kl_coef);

  type MiniBatch = RolloutBatch & {
    oldLogprobs: JaxArray;
    oldValues: JaxArray;
    advantages: JaxArray;
    returns: JaxArray;
  };
  const tail: Tail<MiniBatch> = (params, hidden, mb) => {
    mb.positions.dispose();
    mb.keyMask.dispose();
    const gradients = headGradients(core.baseTrains);
    const { logprobs, entropy, values } = scoreTokensFromHidden(policy, params, hidden, mb.ids, config.temperature, gradients);
    const policyLoss = ppoPolicyLoss({
      logprobs,
      oldLogprobs: mb.oldLogprobs,
      advantages: mb.advantages,
      mask: mb.mask.ref,
      clipRange: config.cliprange,
    });
    const valueLoss = ppoValueLoss({
      values: values as JaxArray,
      oldValues: mb.oldValues,
      returns: mb.returns,
      mask: mb.mask.ref,
      clipRangeValue: config.cliprange_value,
    });
    const entropyAvg = entropy.mul(mb.mask.ref).sum().div(np.maximum(mb.mask.sum(), 1));
    const loss = policyLoss.loss.ref.add(valueLoss.loss.ref.mul(config.vf_coef));
    return {
      loss,
      metrics: {
        ...policyLoss.metrics,
        ...valueLoss.metrics,
        "loss/policy_avg": policyLoss.loss,
        "loss/value_avg": valueLoss.loss,
        "policy/entropy_avg": entropyAvg,
      },
    };
  };
  const longestPrompt = Math.max(...prompts.map((p) => p.length));
  const staged = chooseStaged("ppo", policy, {
    rows: Math.ceil(batchSize / config.num_mini_batches),
    length: bucket(longestPrompt + config.response_length, 16),
    trainableParams: countParams(core.trainable),
    headTrains: core.baseTrains,
    accumulation: 1,
    lora: !core.baseTrains,
  });
  const update = trainingStep(policy, tail, { staged, embeddingTrains: core.baseTrains, embed: trainingEmbed(core.baseTrains) });

  const history: Record<string, number>[] = [];
  let initialLength: number | null = (core.extra.initial_response_length as number | undefined) ?? null;
  core.startProgress();
  try {
    while (core.step < core.totalSteps) {
      // Prompts of this iteration, in a per-epoch order that a resume reproduces.
      const picked = core.takeNext(prompts, batchSize);
      // 2. Rollout and scoring.
      const { rollout } = await sampleRollout(policy, picked, {
        maxNewTokens: config.response_length,
        temperature: config.temperature,
        seed: core.rng.nextUint32(),
      });
      const width = rollout.width - 1;
      const rows = picked.length;
      const old = await scoreRolloutOnHost(policy, rollout, config.temperature);
      const reference = await scoreRolloutOnHost(ref, rollout, config.temperature);
      let scores = await scoreResponses(reward, rollout, policy);
      scores = penalizeMissingEos(scores, rollout, config.missing_eos_penalty);
      if (config.reward_clip !== null)
        scores = scores.map((s) => Math.max(-(config.reward_clip as number), Math.min(config.reward_clip as number, s)));
      // 3–4. Rewards, advantages, returns.
      const mask = rollout.responseMask;
      const tokens = (data: Float32Array) => ({ batch: rows, length: width, data });
      const shaped = ppoTokenRewards({
        scores,
        logprobs: tokens(old.logprobs),
        refLogprobs: tokens(reference.logprobs),
        mask,
        klCoef: kl.value,
        estimator: config.kl_estimator,
      });
      const rewards = config.whiten_rewards ? tokens(whiten(shaped.rewards.data, mask, false)) : shaped.rewards;
      const values = tokens(Float32Array.from(old.values as Float32Array, (v, i) => v * (mask[i] as number)));
      const { advantages, returns } = gae({ rewards, values, mask, gamma: config.gamma, lam: config.lam });
      const whitened = whiten(advantages.data, mask);
      // 5. PPO epochs over minibatches.
      const sums: Record<string, number> = {};
      let updates = 0;
      const miniSize = Math.ceil(rows / config.num_mini_batches);
      for (let epoch = 0; epoch < config.num_ppo_epochs; epoch++) {
        const shuffled = core.rng.shuffle([...Array(rows).keys()]);
        for (let m = 0; m < config.num_mini_batches; m++) {
          const select = shuffled.slice(m * miniSize, (m + 1) * miniSize);
          if (select.length === 0) continue;
          const pick = (data: Float32Array) => np.array(pickRows(data, select, width)).reshape([select.length, width]);
          const mb: MiniBatch = {
            ...rolloutBatch(rollout, select),
            oldLogprobs: pick(old.logprobs),
            oldValues: pick(values.data),
            advantages: pick(whitened),
            returns: pick(returns.data),
          };
          const [[loss, metrics], grads] = update(treeRef(core.trainable), treeRef(core.frozen), mb as never) as [
            [JaxArray, Record<string, JaxArray>],
            ParamTree,
          ];
          const lossValue = await readNumber(loss);
          for (const [name, value] of Object.entries(metrics)) sums[name] = (sums[name] ?? 0) + (await readNumber(value));
          await core.applyGradients(grads, lossValue);
          updates++;
        }
      }
      kl.update(shaped.klSum.reduce((a, b) => a + b, 0) / rows, rows);
      core.extra.kl_coef = kl.value;
      // Metrics with TRL's names.
      const meanLength = rollout.responses.reduce((a, r) => a + r.length, 0) / rows;
      initialLength ??= meanLength;
      core.extra.initial_response_length = initialLength;
      const objectiveKl = shaped.klSum.reduce((a, b) => a + b, 0) / rows;
      const nonScore = shaped.nonScoreReward.reduce((a, b) => a + b, 0) / rows;
      const meanScore = scores.reduce((a, b) => a + b, 0) / rows;
      const record: Record<string, number> = {
        "objective/kl": objectiveKl,
        "objective/entropy": meanPerRow(old.entropy, mask, rows, width),
        "objective/non_score_reward": nonScore,
        "objective/rlhf_reward": meanScore + nonScore,
        "objective/scores": meanScore,
        "val/num_eos_tokens": rollout.endedWithEos.filter(Boolean).length,
        response_length: meanLength,
        "objective/kl_coef": kl.value,
        lr: core.learningRate,
        episode: (core.step / updatesPerIteration) * batchSize,
      };
      for (const [name, value] of Object.entries(sums)) record[name] = value / Math.max(1, updates);
      if (observe) Object.assign(record, await observe({ ...decodeRollout(policy, rollout), scores }));
      warnAboutDrift(record, initialLength, core.step);
      history.push({ step: core.step, ...record });
      core.log(record);
      if (config.save_steps > 0 && core.step % config.save_steps < updatesPerIteration && core.step < core.totalSteps) await core.save();
    }
    await core.finish();
  } finally {
    core.stopProgress();
    update.dispose();
  }
  return { history, core };
}

/**
 * The failure signs users report most: a negative KL (k1 can go negative when
 * the policy samples tokens the reference prefers: a sign of a bad estimator
 * or too few samples), an exploding KL, and responses shrinking or growing
 * far from their starting length (reward hacking).
 */
export function warnAboutDrift(record: Record<string, number>, initialLength: number, step: number): string[] {
  const warnings: string[] = [];
  const kl = record["objective/kl"] as number;
  if (kl < -1) warnings.push(`objective/kl is ${kl.toFixed(3)} (negative): try kl_estimator k3, more samples, or a lower learning rate`);
  if (kl > 100)
    warnings.push(
      `objective/kl is ${kl.toFixed(1)}: the policy is moving far from the reference; raise kl_coef or lower the learning rate`,
    );
  const length = record.response_length as number;
  if (initialLength > 0 && (length > 2 * initialLength || length < 0.5 * initialLength)) {
    warnings.push(
      `mean response length went from ${initialLength.toFixed(1)} to ${length.toFixed(1)} tokens: a common sign of reward hacking`,
    );
  }
  for (const warning of warnings) process.emitWarning(`step ${step}: ${warning}`, "PreceptTrainingWarning");
  return warnings;
}
