/**
 * Reference-free preference optimisation (no reference model runs, so a step
 * costs one policy forward over the chosen and rejected rows):
 * - ORPO (Hong et al. 2024; TRL ORPOTrainer): SFT's NLL on the chosen
 *   completion minus β·log σ(log odds ratio), on per-token averaged log-probs;
 * - CPO (Xu et al. 2024; TRL CPOTrainer) with `loss_type` sigmoid | hinge |
 *   ipo | simpo; SimPO (Meng et al. 2024) is `loss_type: simpo` with
 *   `cpo_alpha: 0`, which `precept train simpo` sets by default (β 2.0, γ 0.5).
 * Log-probs are summed for sigmoid/hinge, averaged for ipo/simpo/ORPO, as TRL.
 */
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import type { ParamTree } from "../engine/tree.js";
import { batchInput, type CausalLM } from "../models/model.js";
import { nextTokenLogProbs } from "../models/score.js";
import type { CpoConfig, OrpoConfig } from "./configs.js";
import { TrainerCore } from "./core.js";
import type { DpoExample } from "./dpo.js";
import { rowsBatch } from "./kto.js";
import { cpoLoss, orpoLoss } from "./losses.js";
import { examplesPerEpoch, headGradients, trainingEmbed } from "./sft.js";
import { plannedSteps, runSupervised } from "./supervised.js";

type PairBatch = { ids: JaxArray; positions: JaxArray; keyMask: JaxArray; mask: JaxArray };

/** Prompt + chosen rows, then prompt + rejected rows. */
function pairRows(examples: DpoExample[], padId: number): PairBatch {
  return rowsBatch(
    [...examples.map((e) => e.prompt), ...examples.map((e) => e.prompt)],
    [...examples.map((e) => e.chosen), ...examples.map((e) => e.rejected)],
    padId,
  );
}

async function trainReferenceFree(
  trainer: "orpo" | "cpo",
  config: OrpoConfig | CpoConfig,
  model: CausalLM,
  train: DpoExample[],
  resume: string | undefined,
) {
  if (train.length === 0) throw new Error(`${trainer}: the training set is empty`);
  const emptyPrompt = train.findIndex((e) => e.prompt.length === 0);
  if (emptyPrompt >= 0) throw new Error(`${trainer}: pair ${emptyPrompt} has an empty prompt; add a BOS token or some prompt text`);
  const cpo = trainer === "cpo" ? (config as CpoConfig) : null;
  const average = !cpo || cpo.loss_type === "ipo" || cpo.loss_type === "simpo";
  const size = config.per_device_train_batch_size;
  const core = new TrainerCore(trainer, model, config, plannedSteps(config, Math.ceil(train.length / size)));
  if (resume) await core.resume(resume);
  const lossFn = (params: ParamTree, batch: PairBatch) => {
    const pairs = (batch.ids.shape[0] as number) / 2;
    const input = batchInput(batch, trainingEmbed(core.baseTrains));
    const logprobs = nextTokenLogProbs(model, params, input, { gradients: headGradients(core.baseTrains) });
    const sums = logprobs.mul(batch.mask.ref).sum(-1);
    const counts = np.maximum(batch.mask.sum(-1), 1);
    const [chosenSums, rejectedSums] = np.split(sums.ref, [pairs], 0) as [JaxArray, JaxArray];
    const [chosenCounts, rejectedCounts] = np.split(counts.ref, [pairs], 0) as [JaxArray, JaxArray];
    // NLL: mean over all chosen completion tokens of the batch.
    const nll = chosenSums.ref.sum().neg().div(chosenCounts.ref.sum());
    const perToken = (total: JaxArray, count: JaxArray) => {
      if (average) return total.div(count);
      count.dispose();
      return total;
    };
    const policyChosen = perToken(chosenSums, chosenCounts);
    const policyRejected = perToken(rejectedSums, rejectedCounts);
    sums.dispose();
    counts.dispose();
    if (!cpo) return orpoLoss({ policyChosen, policyRejected, nll, beta: config.beta });
    return cpoLoss({
      policyChosen,
      policyRejected,
      nll,
      beta: cpo.beta,
      lossType: cpo.loss_type,
      labelSmoothing: cpo.label_smoothing,
      cpoAlpha: cpo.cpo_alpha,
      simpoGamma: cpo.simpo_gamma,
    });
  };
  const history = await runSupervised({
    core,
    lossFn,
    epochBatches: examplesPerEpoch(train, size),
    toDevice: (examples: DpoExample[]) => pairRows(examples, model.padId),
  });
  return { history, core };
}

export async function trainOrpo({
  config,
  model,
  train,
  resume,
}: {
  config: OrpoConfig;
  model: CausalLM;
  train: DpoExample[];
  resume?: string;
}) {
  return trainReferenceFree("orpo", config, model, train, resume);
}

export async function trainCpo({
  config,
  model,
  train,
  resume,
}: {
  config: CpoConfig;
  model: CausalLM;
  train: DpoExample[];
  resume?: string;
}) {
  return trainReferenceFree("cpo", config, model, train, resume);
}
