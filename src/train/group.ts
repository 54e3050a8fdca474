/**
 * The group-baseline trainers: G responses per prompt, no value function.
 * - GRPO (Shao et al. 2024; TRL GRPOTrainer): advantage = (r − mean_group) /
 *   std_group, clipped surrogate, optional k3 KL term with weight β in the loss.
 * - RLOO (Ahmadian et al. 2024; TRL RLOOTrainer): the sequence KL to the
 *   reference is subtracted from the reward (β = kl_coef), advantage = r −
 *   mean of the other G − 1 rewards, same clipped surrogate.
 * Rewards come from reward functions or verifiers (code that checks an answer)
 * as well as reward models.
 */
import { type Array as JaxArray, jit, numpy as np, valueAndGrad } from "../engine/jax.js";
import { readNumber } from "../engine/ownership.js";
import { flattenNamed, type ParamTree, treeRef, unflattenNamed } from "../engine/tree.js";
import { grpoAdvantages, klEstimate, rlooAdvantages } from "./advantages.js";
import type { GrpoConfig, RlooConfig } from "./configs.js";
import { TrainerCore } from "./core.js";
import { grpoLoss } from "./losses.js";
import { type OnlineTrainerInputs, penalizeMissingEos, scoreResponses } from "./ppo.js";
import { rolloutArrays, sampleRollout, scoreRolloutOnHost, scoreTokens } from "./rollout.js";
import { headGradients } from "./sft.js";

type Kind = "grpo" | "rloo";

export async function trainGrpo(inputs: OnlineTrainerInputs<GrpoConfig>) {
  return trainGroup("grpo", inputs);
}

export async function trainRloo(inputs: OnlineTrainerInputs<RlooConfig>) {
  return trainGroup("rloo", inputs);
}

async function trainGroup(kind: Kind, { config, policy, ref, prompts, reward, resume }: OnlineTrainerInputs<GrpoConfig | RlooConfig>) {
  if (prompts.length === 0) throw new Error(`${kind}: no prompts`);
  const groupSize = config.num_generations;
  const promptsPerBatch = Math.max(1, Math.floor(config.per_device_train_batch_size / groupSize));
  const iterations = config.total_episodes
    ? Math.ceil(config.total_episodes / (promptsPerBatch * groupSize))
    : Math.ceil((config.num_train_epochs * prompts.length) / promptsPerBatch);
  const core = new TrainerCore(kind, policy, config, iterations * config.num_iterations);
  if (resume) await core.resume(resume);
  const beta = kind === "grpo" ? (config as GrpoConfig).beta : 0;
  const needsReference = kind === "rloo" ? (config as RlooConfig).kl_coef > 0 : beta > 0;

  type Batch = {
    ids: JaxArray;
    positions: JaxArray;
    keyMask: JaxArray;
    mask: JaxArray;
    oldLogprobs: JaxArray;
    refLogprobs: JaxArray;
    advantages: JaxArray;
  };
  const update = jit(
    valueAndGrad(
      (trainable: ParamTree, frozen: ParamTree, batch: Batch) => {
        const params = unflattenNamed([...flattenNamed(trainable), ...flattenNamed(frozen)]);
        const { logprobs, entropy, values } = scoreTokens(policy, params, batch, config.temperature, headGradients(core.baseTrains));
        values?.dispose();
        entropy.dispose();
        const { loss, metrics } = grpoLoss({
          logprobs,
          oldLogprobs: batch.oldLogprobs,
          refLogprobs: batch.refLogprobs,
          advantages: batch.advantages,
          mask: batch.mask,
          clipRange: config.epsilon,
          beta,
        });
        return [loss, metrics];
      },
      { hasAux: true },
    ),
  );

  const history: Record<string, number>[] = [];
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
      let scores = await scoreResponses(reward, rollout, policy);
      scores = penalizeMissingEos(scores, rollout, config.missing_eos_penalty);
      const mask = rollout.responseMask;
      const sequenceKl = scores.map((_, b) => {
        if (!reference) return 0;
        let sum = 0;
        for (let j = 0; j < width; j++) {
          const i = b * width + j;
          if (mask[i]) sum += klEstimate(old.logprobs[i] as number, reference.logprobs[i] as number, "k1");
        }
        return sum;
      });
      const rewards = kind === "rloo" ? scores.map((s, b) => s - (config as RlooConfig).kl_coef * (sequenceKl[b] as number)) : scores;
      const advantages =
        kind === "rloo"
          ? rlooAdvantages(rewards, groupSize)
          : grpoAdvantages(rewards, groupSize, { scaleRewards: (config as GrpoConfig).scale_rewards });
      const sums: Record<string, number> = {};
      for (let iteration = 0; iteration < config.num_iterations; iteration++) {
        const arrays = rolloutArrays(rollout);
        arrays.lastIndex.dispose();
        const batch: Batch = {
          ids: arrays.ids,
          positions: arrays.positions,
          keyMask: arrays.keyMask,
          mask: arrays.responseMask,
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
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      const record: Record<string, number> = {
        reward: mean(scores),
        reward_std: Math.sqrt(mean(scores.map((s) => (s - mean(scores)) ** 2))),
        "objective/kl": mean(sequenceKl),
        completion_length: mean(rollout.responses.map((r) => r.length)),
        lr: core.learningRate,
        episode: core.step * promptsPerBatch * groupSize,
      };
      for (const [name, value] of Object.entries(sums)) record[name] = value / config.num_iterations;
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
