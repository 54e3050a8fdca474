/**
 * A tiny language-modelling setup shared by the trainer-loop tests and the
 * kill-during-checkpoint child process: the gpt2-tiny fixture learns to
 * continue four fixed sequences.
 */
import { type Array as JaxArray, numpy as np } from "../../src/engine/jax.js";
import { crossEntropy } from "../../src/engine/nn.js";
import type { Rng } from "../../src/engine/rng.js";
import type { ParamTree } from "../../src/engine/tree.js";
import { loadModel } from "../../src/models/io.js";
import { lmLogits, type ModelParts, unpaddedInput } from "../../src/models/model.js";
import { parseConfig, trainingConfigSchema } from "../../src/train/config.js";
import { TrainerCore } from "../../src/train/core.js";
import { plannedSteps, runSupervised } from "../../src/train/supervised.js";

export const FIXTURE = new URL("../fixtures/models/gpt2-tiny", import.meta.url).pathname;
export const SEQUENCES = [
  [1, 5, 9, 13, 17, 21, 25, 29],
  [2, 4, 8, 16, 32, 3, 6, 12],
  [60, 50, 40, 30, 20, 10, 0, 7],
  [11, 22, 33, 44, 55, 11, 22, 33],
];

type Batch = { ids: JaxArray; targets: JaxArray };

export function lmLoss(model: ModelParts) {
  return (params: ParamTree, batch: Batch) => {
    const loss = crossEntropy(lmLogits(model, params, unpaddedInput(batch.ids, "onehot")).logits, batch.targets);
    return { loss, metrics: {} };
  };
}

/** Batches of 2 sequences, shuffled per epoch. */
export function epochBatches(_epoch: number, rng: Rng): number[][][] {
  const order = rng.shuffle([0, 1, 2, 3]);
  return [order.slice(0, 2), order.slice(2, 4)].map((pair) => pair.map((i) => SEQUENCES[i] as number[]));
}

export function toDevice(rows: number[][]): Batch {
  const ids = rows.map((r) => r.slice(0, -1));
  const targets = rows.map((r) => r.slice(1));
  return { ids: np.array(ids, { dtype: np.int32 }), targets: np.array(targets, { dtype: np.int32 }) };
}

export async function trainTinyLm(options: Record<string, unknown>, resume?: string) {
  const config = parseConfig(trainingConfigSchema, { learning_rate: 3e-3, per_device_train_batch_size: 2, progress: false, ...options });
  const model = await loadModel(FIXTURE);
  const core = new TrainerCore("lm-test", model, config, plannedSteps(config, 2));
  if (resume) await core.resume(resume);
  const history = await runSupervised({ core, lossFn: lmLoss(model), epochBatches, toDevice });
  return { core, model, history };
}
