/**
 * Direct Preference Optimization (Rafailov et al. 2023; TRL DPOTrainer): the
 * policy learns from preference pairs directly, against a frozen reference
 * whose log-probs are computed once, before training, and cached.
 * Losses: sigmoid (DPO; cDPO with label smoothing), robust (rDPO), hinge (SLiC) and IPO.
 */
import { type Array as JaxArray, jit, numpy as np } from "../engine/jax.js";
import { readFloats } from "../engine/ownership.js";
import { countParams, type ParamTree, treeRef } from "../engine/tree.js";
import { batchArrays, bucket, padBatch } from "../models/batch.js";
import { batchInput, type CausalLM } from "../models/model.js";
import { nextTokenLogProbs, nextTokenLogProbsFromHidden } from "../models/score.js";
import type { DpoConfig } from "./configs.js";
import { TrainerCore } from "./core.js";
import { type DpoBatch, pairedDpoLoss, referenceArrays } from "./dpo-batch.js";
import { chooseStaged } from "./memory.js";
import { examplesPerEpoch, headGradients, trainingEmbed } from "./sft.js";
import { rowInput, stagedStep, type Tail, wholeLoss } from "./staged.js";
import { plannedSteps, runSupervised } from "./supervised.js";

/** A tokenized preference pair with an explicit prompt: completions are the parts after the prompt. */
export type DpoExample = { prompt: number[]; chosen: number[]; rejected: number[] };
type WithReference = DpoExample & { refChosen: number; refRejected: number };

/** Prompt + chosen rows, then prompt + rejected rows; `mask` [2B, T−1] marks the completion tokens. */
function sequenceBatch(examples: DpoExample[], padId: number) {
  const rows = [...examples.map((e) => [...e.prompt, ...e.chosen]), ...examples.map((e) => [...e.prompt, ...e.rejected])];
  const prompts = [...examples, ...examples].map((e) => e.prompt.length);
  const batch = padBatch(rows, { side: "right", padId, length: bucket(Math.max(...rows.map((r) => r.length)), 16) });
  const width = batch.length - 1;
  const mask = new Float32Array(rows.length * width);
  rows.forEach((row, b) => {
    for (let t = prompts[b] as number; t < row.length; t++) mask[b * width + t - 1] = 1;
  });
  return { ...batchArrays(batch), mask: np.array(mask).reshape([rows.length, width]) };
}

/** Summed (or, for IPO, averaged) completion log-probs [2B] of per-token log-probs [2B, T−1]; consumes both. */
function completionSums(logprobs: JaxArray, mask: JaxArray, average: boolean): JaxArray {
  const sums = logprobs.mul(mask.ref).sum(-1);
  if (average) return sums.div(np.maximum(mask.sum(-1), 1));
  mask.dispose();
  return sums;
}

/**
 * TRL's `logits/chosen` and `logits/rejected`: the mean raw logit over the
 * vocabulary and the completion tokens of the chosen (first `pairs` rows) and
 * rejected rows. The mean over the vocabulary of h·W_v is h·mean(W), so the
 * full logits are never formed. Consumes hidden [2B, T, D], weight [V, D], mask [2B, T−1].
 */
export function meanLogits(hidden: JaxArray, weight: JaxArray, mask: JaxArray, pairs: number): Record<string, JaxArray> {
  const [rows, length, d] = hidden.shape as [number, number, number];
  if (rows !== 2 * pairs) throw new Error(`meanLogits: ${rows} rows for ${pairs} pairs`);
  const perToken = hidden
    .slice([], [0, length - 1])
    .mul(weight.mean(0).reshape([1, 1, d]))
    .sum(-1);
  const [chosenMask, rejectedMask] = np.split(mask, [pairs], 0) as [JaxArray, JaxArray];
  const [chosen, rejected] = np.split(perToken, [pairs], 0) as [JaxArray, JaxArray];
  const masked = (x: JaxArray, m: JaxArray) => x.mul(m.ref).sum().div(np.maximum(m.sum(), 1));
  return { "logits/chosen": masked(chosen, chosenMask), "logits/rejected": masked(rejected, rejectedMask) };
}

/** Completion log-probs [2B] of a forward pass without gradients. Consumes params and arrays. */
function completionLogps(
  model: CausalLM,
  params: ParamTree,
  batch: { ids: JaxArray; positions: JaxArray; keyMask: JaxArray; mask: JaxArray },
  average: boolean,
) {
  return completionSums(nextTokenLogProbs(model, params, batchInput(batch)), batch.mask, average);
}

/** `model`'s completion log-probs of each pair's chosen and rejected sides, `batchSize` pairs per forward pass without gradients. */
async function pairLogps(
  model: CausalLM,
  pairs: DpoExample[],
  average: boolean,
  batchSize: number,
): Promise<{ chosen: number; rejected: number }[]> {
  const forward = jit((params: ParamTree, batch: ReturnType<typeof sequenceBatch>) => completionLogps(model, params, batch, average));
  const out: { chosen: number; rejected: number }[] = [];
  for (let i = 0; i < pairs.length; i += batchSize) {
    const slice = pairs.slice(i, i + batchSize);
    const logps = await readFloats(forward(treeRef(model.params), sequenceBatch(slice, model.padId) as never));
    for (const j of slice.keys()) out.push({ chosen: logps[j] as number, rejected: logps[slice.length + j] as number });
  }
  forward.dispose();
  return out;
}

/** The reference model's completion log-probs for every pair, computed once. */
async function referenceLogps(ref: CausalLM, examples: DpoExample[], average: boolean, batchSize: number): Promise<WithReference[]> {
  const logps = await pairLogps(ref, examples, average, batchSize);
  return examples.map((e, i) => ({ ...e, refChosen: logps[i]?.chosen as number, refRejected: logps[i]?.rejected as number }));
}

/**
 * Held-out preference accuracy of the implicit reward β·(log π − log π_ref):
 * the share of pairs whose chosen side gains more than the rejected one.
 */
async function heldOutAccuracy(model: CausalLM, pairs: WithReference[], average: boolean, batchSize: number): Promise<number> {
  const logps = await pairLogps(model, pairs, average, batchSize);
  const correct = pairs.filter((e, i) => (logps[i]?.chosen as number) - e.refChosen > (logps[i]?.rejected as number) - e.refRejected);
  return correct.length / pairs.length;
}

export async function trainDpo({
  config,
  model,
  ref,
  train,
  evalSet,
  resume,
}: {
  config: DpoConfig;
  model: CausalLM;
  /** Frozen reference (e.g. `model.clone()` before training). */
  ref: CausalLM;
  train: DpoExample[];
  /** Held-out pairs: `eval_rewards/accuracies` every `eval_steps` and at the end. */
  evalSet?: DpoExample[];
  resume?: string;
}) {
  if (train.length === 0) throw new Error("dpo: the training set is empty");
  // Column t − 1 predicts token t: an empty prompt would leave nothing to condition the first completion token on.
  const emptyPrompt = train.findIndex((e) => e.prompt.length === 0);
  if (emptyPrompt >= 0) throw new Error(`dpo: pair ${emptyPrompt} has an empty prompt; add a BOS token or some prompt text`);
  const average = config.loss_type === "ipo";
  let lastAccuracy = Number.NaN;
  const evaluate = async () => {
    lastAccuracy = await heldOutAccuracy(model, evalReference, average, config.per_device_train_batch_size);
    return { "rewards/accuracies": lastAccuracy };
  };
  const batches = Math.ceil(train.length / config.per_device_train_batch_size);
  const core = new TrainerCore("dpo", model, config, plannedSteps(config, batches));
  if (resume) await core.resume(resume);
  const tail: Tail<DpoBatch> = (params, hidden, batch) => {
    batch.positions.dispose();
    batch.keyMask.dispose();
    const pairs = batch.refChosen.shape[0] as number;
    const weight = model.arch.lmHeadWeight(params, model.config);
    const logits = meanLogits(hidden.ref, weight.ref, batch.mask.ref, pairs);
    const logprobs = nextTokenLogProbsFromHidden(hidden, weight, batch.ids, { gradients: headGradients(core.baseTrains) });
    const { loss, metrics } = pairedDpoLoss(completionSums(logprobs, batch.mask, average), batch, {
      beta: config.beta,
      lossType: config.loss_type,
      labelSmoothing: config.label_smoothing,
    });
    return { loss, metrics: { ...metrics, ...logits } };
  };
  const longest = Math.max(...train.map((e) => e.prompt.length + Math.max(e.chosen.length, e.rejected.length)));
  const staged = chooseStaged("dpo", model, {
    rows: 2 * config.per_device_train_batch_size,
    length: bucket(longest, 16),
    trainableParams: countParams(core.trainable),
    headTrains: core.baseTrains,
    accumulation: config.gradient_accumulation_steps,
    lora: !core.baseTrains,
  });
  // After chooseStaged: a large model's reference passes need its eager jit too (queued, a 0.5B
  // model's forward over two pairs held every activation at once and passed 4 GiB).
  const withReference = await referenceLogps(ref, train, average, config.per_device_train_batch_size);
  const evalReference = evalSet?.length ? await referenceLogps(ref, evalSet, average, config.per_device_train_batch_size) : [];
  const history = await runSupervised({
    core,
    lossFn: wholeLoss(model, tail, trainingEmbed(core.baseTrains)),
    ...(staged ? { stagedStep: stagedStep(model, tail, rowInput, core.baseTrains) } : {}),
    epochBatches: examplesPerEpoch(withReference, config.per_device_train_batch_size),
    toDevice: (examples: WithReference[]): DpoBatch => ({
      ...sequenceBatch(examples, model.padId),
      ...referenceArrays(
        examples.map((e) => e.refChosen),
        examples.map((e) => e.refRejected),
      ),
    }),
    ...(evalReference.length > 0 ? { evaluate } : {}),
  });
  return { history, core, ...(evalReference.length > 0 ? { heldOut: { accuracy: lastAccuracy, pairs: evalReference.length } } : {}) };
}
