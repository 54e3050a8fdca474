/**
 * KTO (Ethayarajh et al. 2024; TRL KTOTrainer): learns from unpaired
 * thumbs-up / thumbs-down examples {prompt, completion, label} against a
 * frozen reference. The KL reference point z comes from mismatched pairs:
 * as TRL builds its KL dataset, within each run of `per_device_train_batch_size`
 * examples (in dataset order) example i is paired with the completion of
 * example i − 1 (cyclically), and that pair travels with it. The reference's
 * log-probs of both are computed once, before training.
 */
import { type Array as JaxArray, jit, numpy as np } from "../engine/jax.js";
import { readFloats } from "../engine/ownership.js";
import { type ParamTree, treeRef } from "../engine/tree.js";
import { batchArrays, bucket, padBatch } from "../models/batch.js";
import { batchInput, type CausalLM } from "../models/model.js";
import { nextTokenLogProbs } from "../models/score.js";
import type { KtoConfig } from "./configs.js";
import { TrainerCore } from "./core.js";
import { ktoLoss } from "./losses.js";
import { examplesPerEpoch, headGradients, trainingEmbed } from "./sft.js";
import { plannedSteps, runSupervised } from "./supervised.js";

/** A tokenized unpaired preference: `label` true = desirable. */
export type KtoExample = { prompt: number[]; completion: number[]; label: boolean };
type Prepared = KtoExample & { klCompletion: number[]; ref: number; refKl: number };
type KtoBatch = { ids: JaxArray; positions: JaxArray; keyMask: JaxArray; mask: JaxArray; label: JaxArray; ref: JaxArray; refKl: JaxArray };

/** A paired preference {prompt, chosen, rejected} as two unpaired rows (TRL `unpair_preference_dataset`). */
export function unpair(pairs: { prompt: number[]; chosen: number[]; rejected: number[] }[]): KtoExample[] {
  return pairs.flatMap((p) => [
    { prompt: p.prompt, completion: p.chosen, label: true },
    { prompt: p.prompt, completion: p.rejected, label: false },
  ]);
}

/** Prompt + completion rows; `mask` [R, T−1] marks the completion tokens. */
export function rowsBatch(prompts: number[][], completions: number[][], padId: number) {
  const rows = prompts.map((p, i) => [...p, ...(completions[i] as number[])]);
  const batch = padBatch(rows, { side: "right", padId, length: bucket(Math.max(...rows.map((r) => r.length)), 16) });
  const width = batch.length - 1;
  const mask = new Float32Array(rows.length * width);
  rows.forEach((row, b) => {
    for (let t = (prompts[b] as number[]).length; t < row.length; t++) mask[b * width + t - 1] = 1;
  });
  return { ...batchArrays(batch), mask: np.array(mask).reshape([rows.length, width]) };
}

/** Matched rows, then the mismatched KL rows. */
function klRows(examples: (KtoExample & { klCompletion: number[] })[], padId: number) {
  const prompts = [...examples.map((e) => e.prompt), ...examples.map((e) => e.prompt)];
  return rowsBatch(prompts, [...examples.map((e) => e.completion), ...examples.map((e) => e.klCompletion)], padId);
}

function summed(logprobs: JaxArray, mask: JaxArray): JaxArray {
  return logprobs.mul(mask).sum(-1);
}

export async function trainKto({
  config,
  model,
  ref,
  train,
  resume,
}: {
  config: KtoConfig;
  model: CausalLM;
  /** Frozen reference (e.g. `model.clone()` before training). */
  ref: CausalLM;
  train: KtoExample[];
  resume?: string;
}) {
  if (train.length === 0) throw new Error("kto: the training set is empty");
  const emptyPrompt = train.findIndex((e) => e.prompt.length === 0);
  if (emptyPrompt >= 0) throw new Error(`kto: example ${emptyPrompt} has an empty prompt; add a BOS token or some prompt text`);
  // Log-probs of empty completions are all 0: training would report a loss and learn nothing.
  if (train.every((e) => e.completion.length === 0)) {
    throw new Error(
      `kto: none of the ${train.length} completions has a token left (empty, or truncated away behind prompts as long as max_length); check the data or raise max_length`,
    );
  }
  const size = config.per_device_train_batch_size;
  // TRL's KL dataset: completions shifted by one within each batch-sized run of the data.
  const paired = train.map((e, i) => {
    const start = i - (i % size);
    const end = Math.min(train.length, start + size);
    const previous = i === start ? end - 1 : i - 1;
    return { ...e, klCompletion: (train[previous] as KtoExample).completion };
  });
  const forward = jit((params: ParamTree, batch: ReturnType<typeof klRows>) =>
    summed(nextTokenLogProbs(ref, params, batchInput(batch)), batch.mask),
  );
  const prepared: Prepared[] = [];
  for (let i = 0; i < paired.length; i += size) {
    const slice = paired.slice(i, i + size);
    const logps = await readFloats(forward(treeRef(ref.params), klRows(slice, ref.padId) as never));
    for (const [j, e] of slice.entries()) prepared.push({ ...e, ref: logps[j] as number, refKl: logps[slice.length + j] as number });
  }
  forward.dispose();
  const core = new TrainerCore("kto", model, config, plannedSteps(config, Math.ceil(train.length / size)));
  if (resume) await core.resume(resume);
  const lossFn = (params: ParamTree, batch: KtoBatch) => {
    const n = batch.ref.shape[0] as number;
    const input = batchInput(batch, trainingEmbed(core.baseTrains));
    const logprobs = nextTokenLogProbs(model, params, input, { gradients: headGradients(core.baseTrains) });
    const [policyLogps, policyKlLogps] = np.split(summed(logprobs, batch.mask), [n], 0) as [JaxArray, JaxArray];
    return ktoLoss({
      policyLogps,
      refLogps: batch.ref,
      label: batch.label,
      policyKlLogps,
      refKlLogps: batch.refKl,
      beta: config.beta,
      desirableWeight: config.desirable_weight,
      undesirableWeight: config.undesirable_weight,
    });
  };
  const history = await runSupervised({
    core,
    lossFn,
    epochBatches: examplesPerEpoch(prepared, size),
    toDevice: (examples: Prepared[]): KtoBatch => ({
      ...klRows(examples, model.padId),
      label: np.array(Float32Array.from(examples, (e) => (e.label ? 1 : 0))),
      ref: np.array(Float32Array.from(examples, (e) => e.ref)),
      refKl: np.array(Float32Array.from(examples, (e) => e.refKl)),
    }),
  });
  return { history, core };
}
