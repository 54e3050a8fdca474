/**
 * Supervised fine-tuning (TRL SFTTrainer): next-token cross-entropy on the
 * tokens a loss mask selects (completion or assistant tokens by default).
 */

import type { LmExample } from "../data/examples.js";
import { type Array as JaxArray, jit, numpy as np } from "../engine/jax.js";
import { readNumber } from "../engine/ownership.js";
import { countParams, type ParamTree, treeRef } from "../engine/tree.js";
import { batchArrays, bucket, padBatch } from "../models/batch.js";
import type { CausalLM } from "../models/model.js";
import { nextTokenLogProbsFromHidden } from "../models/score.js";
import type { SftConfig } from "./configs.js";
import { TrainerCore } from "./core.js";
import { sftLoss } from "./losses.js";
import { chooseStaged } from "./memory.js";
import { rowInput, stagedStep, type Tail, wholeLoss } from "./staged.js";
import { plannedSteps, runSupervised } from "./supervised.js";

/** One tokenized example (see data/examples.ts): `lossMask[t]` = 1 when token t is to be predicted (its first entry is ignored). */
export type { LmExample };

export type LmBatch = { ids: JaxArray; positions: JaxArray; keyMask: JaxArray; mask: JaxArray };

/** Right-padded device batch; `mask` [B, T−1] selects the predicted tokens 1..T−1. */
export function lmBatch(examples: LmExample[], padId: number): LmBatch {
  const batch = padBatch(
    examples.map((e) => e.ids),
    { side: "right", padId, length: bucket(Math.max(...examples.map((e) => e.ids.length)), 16) },
  );
  const width = batch.length - 1;
  const mask = new Float32Array(batch.batch * width);
  examples.forEach((example, b) => {
    for (let t = 1; t < example.ids.length; t++) mask[b * width + t - 1] = example.lossMask[t] ? 1 : 0;
  });
  const { ids, positions, keyMask } = batchArrays(batch);
  return { ids, positions, keyMask, mask: np.array(mask).reshape([batch.batch, width]) };
}

/**
 * SFT's loss after the model's last block (see staged.ts): mean negative
 * log-likelihood of the masked tokens. `baseTrains`: the base weights train
 * (full fine-tuning), so the LM head gets gradients; false for a LoRA adapter.
 */
export function sftTail(model: CausalLM, baseTrains: boolean): Tail<LmBatch> {
  return (params, hidden, batch) => {
    batch.positions.dispose();
    batch.keyMask.dispose();
    const weight = model.arch.lmHeadWeight(params, model.config);
    const logprobs = nextTokenLogProbsFromHidden(hidden, weight, batch.ids, { gradients: headGradients(baseTrains) });
    const tokens = batch.mask.ref.sum();
    const { loss } = sftLoss(logprobs, batch.mask);
    return { loss, metrics: { num_tokens: tokens } };
  };
}

/** SFT's loss of one batch over the whole model, for `runSupervised` (`baseTrains` as for `sftTail`). */
export function sftLossFn(model: CausalLM, { baseTrains = true }: { baseTrains?: boolean } = {}) {
  return wholeLoss(model, sftTail(model, baseTrains), trainingEmbed(baseTrains));
}

/** How the embedding is looked up while training: a gather when it is frozen (its gradient would be a scatter, which jit cannot hold), else a one-hot matmul. */
export function trainingEmbed(baseTrains: boolean): "gather" | "onehot" {
  return baseTrains ? "onehot" : "gather";
}

/** Where the LM head's log-probs carry gradients (see engine/vocab-head.ts). */
export function headGradients(baseTrains: boolean): "hidden" | "weight" {
  return baseTrains ? "weight" : "hidden";
}

/** Shuffles examples per epoch and cuts them into micro-batches of `per_device_train_batch_size`. */
export function examplesPerEpoch<E>(examples: E[], batchSize: number) {
  return (_epoch: number, rng: { shuffle<T>(items: T[]): T[] }): E[][] => {
    const order = rng.shuffle([...examples.keys()]);
    const batches: E[][] = [];
    for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize).map((j) => examples[j] as E));
    return batches;
  };
}

/** Whether an example has a token the loss counts (its first token is never predicted). */
function hasTarget(example: LmExample): boolean {
  return example.lossMask.some((m, t) => t > 0 && t < example.ids.length && m !== 0);
}

/**
 * Examples with no token to learn from (an empty completion, or one truncated
 * away behind a long prompt) are left out, with a note; when that is all of
 * them, training would report loss 0 on 0 tokens, so it stops instead.
 */
function withTokensToLearn(train: LmExample[]): LmExample[] {
  const kept = train.filter(hasTarget);
  if (kept.length === 0) {
    throw new Error(
      `sft: none of the ${train.length} training example(s) has a token to learn from: every completion (or text) is empty, or was truncated away behind a prompt as long as max_length; check the data, raise max_length, or set completion_only_loss: false`,
    );
  }
  if (kept.length < train.length) {
    process.emitWarning(
      `sft: ${train.length - kept.length} of ${train.length} example(s) have no token to learn from (empty, or truncated away at max_length) and are left out`,
      "PreceptTrainingWarning",
    );
  }
  return kept;
}

export async function trainSft({
  config,
  model,
  train,
  evalSet,
  resume,
}: {
  config: SftConfig;
  model: CausalLM;
  train: LmExample[];
  evalSet?: LmExample[];
  resume?: string;
}) {
  if (train.length === 0) throw new Error("sft: the training set is empty");
  const learnable = withTokensToLearn(train);
  const batches = Math.ceil(learnable.length / config.per_device_train_batch_size);
  const core = new TrainerCore("sft", model, config, plannedSteps(config, batches));
  if (resume) await core.resume(resume);
  const lossFn = sftLossFn(model, { baseTrains: core.baseTrains });
  const toDevice = (examples: LmExample[]) => lmBatch(examples, model.padId);
  const evaluate = evalSet?.length
    ? async () => ({ loss: await meanLoss(model, lossFn, evalSet, config.per_device_train_batch_size, toDevice) })
    : undefined;
  const staged = chooseStaged("sft", model, {
    rows: config.per_device_train_batch_size,
    length: bucket(Math.max(...learnable.map((e) => e.ids.length)), 16),
    trainableParams: countParams(core.trainable),
    headTrains: core.baseTrains,
    accumulation: config.gradient_accumulation_steps,
    lora: !core.baseTrains,
  })
    ? stagedStep(model, sftTail(model, core.baseTrains), rowInput, core.baseTrains)
    : undefined;
  const history = await runSupervised({
    core,
    lossFn,
    ...(staged ? { stagedStep: staged } : {}),
    epochBatches: examplesPerEpoch(learnable, config.per_device_train_batch_size),
    toDevice,
    ...(evaluate ? { evaluate } : {}),
  });
  return { history, core };
}

/** Mean loss over a dataset without gradients (for evaluation), one jitted forward per batch. */
export async function meanLoss<E, B>(
  model: CausalLM,
  lossFn: (params: ParamTree, batch: B) => { loss: JaxArray; metrics: Record<string, JaxArray> },
  examples: E[],
  batchSize: number,
  toDevice: (examples: E[]) => B,
): Promise<number> {
  const forward = jit((params: ParamTree, batch: B) => {
    const { loss, metrics } = lossFn(params, batch);
    for (const value of Object.values(metrics)) value.dispose();
    return loss;
  });
  let total = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const slice = examples.slice(i, i + batchSize);
    total += (await readNumber(forward(treeRef(model.params), toDevice(slice) as never))) * slice.length;
  }
  forward.dispose();
  return total / examples.length;
}
