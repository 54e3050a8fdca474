/**
 * Reward model training (TRL RewardTrainer): a score head on the last real
 * token of prompt + response, trained with the Bradley–Terry loss on
 * preference pairs, with optional per-pair margins, soft labels (AI-feedback
 * probabilities) and reward centering.
 */
import { type Array as JaxArray, jit, numpy as np } from "../engine/jax.js";
import { readFloats } from "../engine/ownership.js";
import { Rng } from "../engine/rng.js";
import { countParams, type ParamTree, treeRef } from "../engine/tree.js";
import { batchArrays, bucket, padBatch } from "../models/batch.js";
import { batchInput, type CausalLM, scoreFromHidden, scoreHead } from "../models/model.js";
import type { RewardConfig } from "./configs.js";
import { TrainerCore } from "./core.js";
import { bradleyTerryLoss } from "./losses.js";
import { chooseStaged } from "./memory.js";
import { examplesPerEpoch, trainingEmbed } from "./sft.js";
import { rowInput, stagedStep, type Tail } from "./staged.js";
import { plannedSteps, runSupervised } from "./supervised.js";

/** A tokenized preference pair: full sequences (prompt + response) for the chosen and the rejected side. */
export type PairExample = { chosen: number[]; rejected: number[]; margin?: number; label?: number };

export type PairBatch = {
  ids: JaxArray;
  positions: JaxArray;
  keyMask: JaxArray;
  /** [2B] last real token of each row (chosen rows first, then rejected). */
  lastIndex: JaxArray;
  margin: JaxArray;
  label: JaxArray;
};

/** Chosen rows then rejected rows, right-padded to one bucketed width. */
export function pairBatch(examples: PairExample[], padId: number): PairBatch {
  const rows = [...examples.map((e) => e.chosen), ...examples.map((e) => e.rejected)];
  const batch = padBatch(rows, { side: "right", padId, length: bucket(Math.max(...rows.map((r) => r.length)), 16) });
  const { ids, positions, keyMask } = batchArrays(batch);
  return {
    ids,
    positions,
    keyMask,
    lastIndex: np.array(
      Int32Array.from(rows, (r) => r.length - 1),
      { dtype: np.int32 },
    ),
    margin: np.array(Float32Array.from(examples, (e) => e.margin ?? 0)),
    // A missing soft label means a hard preference (p = 1).
    label: np.array(Float32Array.from(examples, (e) => e.label ?? 1)),
  };
}

/** The reward model's loss of one batch; `baseTrains` as for `sftLossFn` (false for LoRA: the embedding is then gathered). */
export function rewardLossFn(model: CausalLM, centerCoef: number | null, { baseTrains = true }: { baseTrains?: boolean } = {}) {
  return (params: ParamTree, batch: PairBatch) => {
    const pairs = batch.margin.shape[0] as number;
    const rewards = scoreHead(model, params, batchInput(batch, trainingEmbed(baseTrains)), batch.lastIndex);
    const [chosen, rejected] = np.split(rewards, [pairs], 0) as [JaxArray, JaxArray];
    return bradleyTerryLoss({ chosen, rejected, margin: batch.margin, label: batch.label, centerCoef: centerCoef ?? 0 });
  };
}

/** The reward loss after the forward pass (the tail of a block-by-block step, train/staged.ts). */
function rewardTail(centerCoef: number | null): Tail<PairBatch> {
  return (params, hidden, batch) => {
    batch.ids.dispose();
    batch.positions.dispose();
    batch.keyMask.dispose();
    const pairs = batch.margin.shape[0] as number;
    const [chosen, rejected] = np.split(scoreFromHidden(params, hidden, batch.lastIndex), [pairs], 0) as [JaxArray, JaxArray];
    return bradleyTerryLoss({ chosen, rejected, margin: batch.margin, label: batch.label, centerCoef: centerCoef ?? 0 });
  };
}

/** Scores [n] of full sequences under a reward model (jitted forward, no gradients). */
export async function rewardScores(model: CausalLM, sequences: number[][], batchSize = 16): Promise<number[]> {
  const forward = jit((params: ParamTree, batch: PairBatch) => {
    batch.margin.dispose();
    batch.label.dispose();
    return scoreHead(model, params, batchInput(batch), batch.lastIndex);
  });
  const out: number[] = [];
  for (let i = 0; i < sequences.length; i += batchSize) {
    const slice = sequences.slice(i, i + batchSize);
    // pairBatch lays out chosen then rejected rows; score the slice as the "chosen" side of pairs with themselves.
    const scores = await readFloats(
      forward(
        treeRef(model.params),
        pairBatch(
          slice.map((s) => ({ chosen: s, rejected: s })),
          model.padId,
        ) as never,
      ),
    );
    out.push(...scores.slice(0, slice.length));
  }
  forward.dispose();
  return out;
}

/** Held-out accuracy: how often the chosen side scores higher. */
export async function pairAccuracy(model: CausalLM, pairs: PairExample[]): Promise<number> {
  const chosen = await rewardScores(
    model,
    pairs.map((p) => p.chosen),
  );
  const rejected = await rewardScores(
    model,
    pairs.map((p) => p.rejected),
  );
  return chosen.filter((c, i) => c > (rejected[i] as number)).length / pairs.length;
}

export async function trainRewardModel({
  config,
  model,
  train,
  evalSet,
  resume,
}: {
  config: RewardConfig;
  model: CausalLM;
  train: PairExample[];
  evalSet?: PairExample[];
  resume?: string;
}) {
  if (train.length === 0) throw new Error("rm: the training set is empty");
  if (!model.hasScoreHead) model.addScoreHead(new Rng(config.seed + 7));
  const batches = Math.ceil(train.length / config.per_device_train_batch_size);
  const core = new TrainerCore("rm", model, config, plannedSteps(config, batches));
  if (resume) await core.resume(resume);
  // The last evaluation is returned too: the chance gate (src/quality/accuracy.ts) judges it.
  let heldOutAccuracy = Number.NaN;
  const evaluate = evalSet?.length
    ? async () => {
        heldOutAccuracy = await pairAccuracy(model, evalSet);
        return { accuracy: heldOutAccuracy };
      }
    : undefined;
  const staged = chooseStaged("rm", model, {
    rows: 2 * config.per_device_train_batch_size,
    length: bucket(Math.max(...train.map((e) => Math.max(e.chosen.length, e.rejected.length))), 16),
    trainableParams: countParams(core.trainable),
    headTrains: core.baseTrains,
    accumulation: config.gradient_accumulation_steps,
    lora: !core.baseTrains,
  });
  const history = await runSupervised({
    core,
    lossFn: rewardLossFn(model, config.center_rewards_coefficient, { baseTrains: core.baseTrains }),
    ...(staged ? { stagedStep: stagedStep(model, rewardTail(config.center_rewards_coefficient), rowInput, core.baseTrains) } : {}),
    epochBatches: examplesPerEpoch(train, config.per_device_train_batch_size),
    toDevice: (examples: PairExample[]) => pairBatch(examples, model.padId),
    ...(evaluate ? { evaluate } : {}),
  });
  return { history, core, ...(evalSet?.length ? { heldOut: { accuracy: heldOutAccuracy, pairs: evalSet.length } } : {}) };
}
