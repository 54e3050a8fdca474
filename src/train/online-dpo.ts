/**
 * Online DPO (Guo et al. 2024, "Direct Language Model Alignment from Online
 * AI Feedback"; TRL OnlineDPOTrainer). Each step:
 *   1. sample two responses to each prompt of the batch from the current policy;
 *   2. judge each pair: a reward model scores both (the higher wins), or a judge
 *      (e.g. a provider applying the constitution, see cai/online-judge.ts)
 *      gives the probability that the first is better;
 *   3. apply the DPO loss (sigmoid or IPO, on summed log-probs) to the fresh
 *      (chosen, rejected) pairs against the frozen reference.
 * RLAIF without a separate labelling pass. Metrics use TRL's names; one
 * metrics line per step (the values of that step).
 */
import { type Array as JaxArray, jit, valueAndGrad } from "../engine/jax.js";
import { readNumber } from "../engine/ownership.js";
import { flattenNamed, type ParamTree, treeRef, unflattenNamed } from "../engine/tree.js";
import type { CausalLM } from "../models/model.js";
import type { OnlineDpoConfig } from "./configs.js";
import { TrainerCore } from "./core.js";
import { type DpoBatch, pairedDpoLoss, referenceArrays } from "./dpo-batch.js";
import { decodeRollout, penalizeMissingEos, scoreResponses } from "./ppo.js";
import { checkResponseRoom, type Rollout, sampleRollout, scoreRolloutOnHost, scoreTokens } from "./rollout.js";
import { rolloutBatch } from "./rollout-batch.js";
import { headGradients } from "./sft.js";
import { plannedSteps } from "./supervised.js";

/** Two responses per prompt, ids and (with a tokenizer) text. */
export type ResponsePairs = {
  prompts: number[][];
  first: number[][];
  second: number[][];
  promptTexts: string[] | null;
  firstTexts: string[] | null;
  secondTexts: string[] | null;
};

/** The probability, for each pair, that the first response is the better one. */
export type PairJudge = (pairs: ResponsePairs) => number[] | Promise<number[]>;

/** What decides each pair: a reward model's scores or a judge. */
export type PairPreference = { model: CausalLM } | { judge: PairJudge };

export type OnlineDpoInputs = {
  config: OnlineDpoConfig;
  policy: CausalLM;
  /** Frozen reference (e.g. `policy.clone()` before training). */
  ref: CausalLM;
  /** Prompts as token ids. */
  prompts: number[][];
  /** The prompts as the user wrote them, for a judge (default: the decoded ids). */
  promptTexts?: string[];
  preference: PairPreference;
  resume?: string;
};

/** Σ over each row's response tokens of per-token values [rows, width] (host). */
function rowSums(values: Float32Array, mask: Float32Array, rows: number, width: number): number[] {
  return Array.from({ length: rows }, (_, b) => {
    let sum = 0;
    for (let j = 0; j < width; j++) sum += (values[b * width + j] as number) * (mask[b * width + j] as number);
    return sum;
  });
}

/** P(first better) for each pair, with the scores behind it when a reward model decided. */
async function judgePairs(
  preference: PairPreference,
  rollout: Rollout,
  policy: CausalLM,
  pairs: number,
  missingEosPenalty: number | null,
  promptTexts: string[] | undefined,
): Promise<{ firstBetter: number[]; scores: number[] | null }> {
  if ("model" in preference) {
    const scores = penalizeMissingEos(await scoreResponses(preference, rollout, policy), rollout, missingEosPenalty);
    return { firstBetter: scores.slice(0, pairs).map((s, i) => (s >= (scores[pairs + i] as number) ? 1 : 0)), scores };
  }
  const texts = policy.tokenizer ? decodeRollout(policy, rollout) : null;
  const probabilities = await preference.judge({
    prompts: rollout.prompts.slice(0, pairs),
    first: rollout.responses.slice(0, pairs),
    second: rollout.responses.slice(pairs),
    promptTexts: promptTexts ?? texts?.promptTexts.slice(0, pairs) ?? null,
    firstTexts: texts?.responseTexts.slice(0, pairs) ?? null,
    secondTexts: texts?.responseTexts.slice(pairs) ?? null,
  });
  if (probabilities.length !== pairs || probabilities.some((p) => !(p >= 0 && p <= 1))) {
    throw new Error(
      `online-dpo: the judge returned ${JSON.stringify(probabilities).slice(0, 200)} for ${pairs} pairs: expected one probability in [0, 1] each`,
    );
  }
  return { firstBetter: probabilities, scores: null };
}

export async function trainOnlineDpo({ config, policy, ref, prompts, promptTexts, preference, resume }: OnlineDpoInputs) {
  if (prompts.length === 0) throw new Error("online-dpo: no prompts");
  checkResponseRoom("online-dpo", "max_new_tokens", prompts, config.max_new_tokens, policy);
  if (promptTexts && promptTexts.length !== prompts.length) {
    throw new Error(`online-dpo: ${promptTexts.length} prompt texts for ${prompts.length} prompts`);
  }
  const batchSize = config.per_device_train_batch_size;
  const core = new TrainerCore("online-dpo", policy, config, plannedSteps(config, Math.ceil(prompts.length / batchSize)));
  if (resume) await core.resume(resume);
  const indices = prompts.map((_, i) => i);

  const update = jit(
    valueAndGrad(
      (trainable: ParamTree, frozen: ParamTree, batch: DpoBatch) => {
        const params = unflattenNamed([...flattenNamed(trainable), ...flattenNamed(frozen)]);
        // Log-probs at temperature 1: the DPO objective is about the policy itself, not the sampler.
        const { logprobs, entropy, values } = scoreTokens(policy, params, batch, 1, headGradients(core.baseTrains));
        entropy.dispose();
        values?.dispose();
        const sums = logprobs.mul(batch.mask).sum(-1);
        const { loss, metrics } = pairedDpoLoss(sums.ref, batch, { beta: config.beta, lossType: config.loss_type });
        // TRL's estimate: minus the mean summed log-prob of the sampled responses.
        return [loss, { ...metrics, "objective/entropy": sums.mean().neg() }];
      },
      { hasAux: true },
    ),
  );

  const history: Record<string, number>[] = [];
  core.startProgress();
  try {
    while (core.step < core.totalSteps) {
      const picked = core.takeNext(indices, batchSize);
      const pairs = picked.length;
      const batchPrompts = picked.map((i) => prompts[i] as number[]);
      // Rows 0..B−1 are the first sample of each prompt, rows B..2B−1 the second.
      const { rollout } = await sampleRollout(policy, [...batchPrompts, ...batchPrompts], {
        maxNewTokens: config.max_new_tokens,
        temperature: config.temperature,
        seed: core.rng.nextUint32(),
      });
      const width = rollout.width - 1;
      const { firstBetter, scores } = await judgePairs(
        preference,
        rollout,
        policy,
        pairs,
        config.missing_eos_penalty,
        promptTexts ? picked.map((i) => promptTexts[i] as string) : undefined,
      );
      const reference = await scoreRolloutOnHost(ref, rollout, 1);
      const refSums = rowSums(reference.logprobs, rollout.responseMask, 2 * pairs, width);
      const chosenRows = firstBetter.map((p, i) => (p >= 0.5 ? i : pairs + i));
      const rejectedRows = firstBetter.map((p, i) => (p >= 0.5 ? pairs + i : i));
      const batch: DpoBatch = {
        ...rolloutBatch(rollout, [...chosenRows, ...rejectedRows]),
        ...referenceArrays(
          chosenRows.map((r) => refSums[r] as number),
          rejectedRows.map((r) => refSums[r] as number),
        ),
      };
      const learningRate = core.learningRate;
      const [[loss, metrics], grads] = update(treeRef(core.trainable), treeRef(core.frozen), batch as never) as [
        [JaxArray, Record<string, JaxArray>],
        ParamTree,
      ];
      const lossValue = await readNumber(loss);
      const record: Record<string, number> = { loss: lossValue };
      for (const [name, value] of Object.entries(metrics)) record[name] = await readNumber(value);
      const { gradNorm } = await core.applyGradients(grads, lossValue);
      // Mean over all 2B samples of Σ (log π − log π_ref): from the two mean rewards (β·log-ratio).
      const kl = ((record["rewards/chosen"] as number) + (record["rewards/rejected"] as number)) / (2 * config.beta);
      Object.assign(record, {
        grad_norm: gradNorm,
        learning_rate: learningRate,
        "objective/kl": kl,
        "objective/non_score_reward": -config.beta * kl,
        "val/contain_eos_token": rollout.endedWithEos.filter(Boolean).length / rollout.endedWithEos.length,
        beta: config.beta,
      });
      if (scores) {
        const meanScore = scores.reduce((a, b) => a + b, 0) / scores.length;
        const margin = chosenRows.reduce((a, c, i) => a + (scores[c] as number) - (scores[rejectedRows[i] as number] as number), 0) / pairs;
        Object.assign(record, {
          "objective/scores": meanScore,
          "objective/scores_margin": margin,
          "objective/rlhf_reward": meanScore - config.beta * kl,
        });
      }
      history.push({ step: core.step, ...record });
      core.log(record);
      if (config.save_steps > 0 && core.step % config.save_steps === 0 && core.step < core.totalSteps) await core.save();
    }
    await core.finish();
  } finally {
    core.stopProgress();
    update.dispose();
  }
  return { history, core };
}
