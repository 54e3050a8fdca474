/**
 * The training loop of the trainers that learn from a fixed dataset (SFT,
 * reward model, DPO): each optimizer step runs `gradient_accumulation_steps`
 * micro-batches through one jitted value-and-gradient function, averages
 * their gradients and metrics, and hands the update to `TrainerCore`.
 *
 * Data order is a pure function of (seed, epoch), and the position within the
 * epoch is part of every checkpoint, so a resumed run sees exactly the batches
 * the uninterrupted run would have seen.
 */
import { type Array as JaxArray, jit, valueAndGrad } from "../engine/jax.js";
import { readNumber } from "../engine/ownership.js";
import type { Rng } from "../engine/rng.js";
import { flattenNamed, mapTree, type ParamTree, treeRef, unflattenNamed } from "../engine/tree.js";
import { epochRng, type TrainerCore } from "./core.js";
import type { StepFn } from "./staged.js";

export type LossOutput = { loss: JaxArray; metrics: Record<string, JaxArray> };
/** A loss over the full parameter tree and one device batch; consumes both. */
export type LossFn<B> = (params: ParamTree, batch: B) => LossOutput;

export type SupervisedLoop<H, B> = {
  core: TrainerCore;
  lossFn: LossFn<B>;
  /** The micro-batches of one epoch, in a fixed order (host data). */
  epochBatches: (epoch: number, rng: Rng) => H[];
  /** Host batch → device arrays (consumed by the loss). */
  toDevice: (batch: H) => B;
  /** A block-by-block step (staged.ts) to use instead of one jitted step over `lossFn`, for models too large for that. */
  stagedStep?: StepFn<B> & { dispose(): void };
  /** Optional evaluation, run every `eval_steps` and at the end; keys get an `eval_` prefix. */
  evaluate?: () => Promise<Record<string, number>>;
};

/** Optimizer steps for the configured epochs or `max_steps`. */
export function plannedSteps(config: TrainerCore["config"], batchesPerEpoch: number): number {
  if (config.max_steps > 0) return config.max_steps;
  return Math.max(1, Math.ceil((config.num_train_epochs * batchesPerEpoch) / config.gradient_accumulation_steps));
}

export async function runSupervised<H, B>({
  core,
  lossFn,
  epochBatches,
  toDevice,
  evaluate,
  stagedStep,
}: SupervisedLoop<H, B>): Promise<Record<string, number>[]> {
  const { config } = core;
  const accumulation = config.gradient_accumulation_steps;
  const step: StepFn<B> & { dispose(): void } = stagedStep ?? wholeStep(lossFn);
  const history: Record<string, number>[] = [];
  let epochCache: { epoch: number; batches: H[] } | null = null;
  const batchesOf = (epoch: number) => {
    if (epochCache?.epoch !== epoch) epochCache = { epoch, batches: epochBatches(epoch, epochRng(config.seed, epoch)) };
    return epochCache.batches;
  };
  if (batchesOf(core.data.epoch).length === 0) throw new Error(`${core.trainer}: the dataset gives no batches`);

  core.startProgress();
  const sums: Record<string, number> = {};
  let logged = 0;
  try {
    while (core.step < core.totalSteps) {
      let grads: ParamTree | null = null;
      let lossSum = 0;
      const metricSums: Record<string, number> = {};
      for (let micro = 0; micro < accumulation; micro++) {
        let batches = batchesOf(core.data.epoch);
        if (core.data.batchInEpoch >= batches.length) {
          core.data = { epoch: core.data.epoch + 1, batchInEpoch: 0 };
          batches = batchesOf(core.data.epoch);
        }
        const host = batches[core.data.batchInEpoch] as H;
        core.data = { epoch: core.data.epoch, batchInEpoch: core.data.batchInEpoch + 1 };
        const [[loss, metrics], g] = step(treeRef(core.trainable), treeRef(core.frozen), toDevice(host) as never) as [
          [JaxArray, Record<string, JaxArray>],
          ParamTree,
        ];
        grads = grads ? mapTree((a, b) => a.add(b as JaxArray), grads, g) : g;
        lossSum += await readNumber(loss);
        for (const [name, value] of Object.entries(metrics)) metricSums[name] = (metricSums[name] ?? 0) + (await readNumber(value));
      }
      const averaged = accumulation === 1 ? (grads as ParamTree) : mapTree((g) => g.mul(1 / accumulation), grads as ParamTree);
      const loss = lossSum / accumulation;
      const learningRate = core.learningRate;
      const { gradNorm, skipped } = await core.applyGradients(averaged, loss);
      const epochProgress = core.data.epoch + core.data.batchInEpoch / batchesOf(core.data.epoch).length;
      const record: Record<string, number> = { loss, grad_norm: gradNorm, learning_rate: learningRate, epoch: epochProgress };
      for (const [name, value] of Object.entries(metricSums)) record[name] = value / accumulation;
      history.push({ step: core.step, ...record });
      if (!skipped) {
        for (const [name, value] of Object.entries(record)) sums[name] = (sums[name] ?? 0) + value;
        logged++;
      }
      if (core.step % config.logging_steps === 0 || core.step === core.totalSteps) {
        const mean: Record<string, number> = {};
        for (const [name, value] of Object.entries(sums)) mean[name] = value / Math.max(1, logged);
        core.log({ ...mean, learning_rate: learningRate, epoch: epochProgress });
        for (const name of Object.keys(sums)) delete sums[name];
        logged = 0;
      }
      if (evaluate && config.eval_steps > 0 && core.step % config.eval_steps === 0) await logEval(core, evaluate);
      if (config.save_steps > 0 && core.step % config.save_steps === 0 && core.step < core.totalSteps) await core.save();
    }
    if (evaluate) await logEval(core, evaluate);
    await core.finish();
  } finally {
    core.stopProgress();
    step.dispose();
  }
  return history;
}

/** One jitted value-and-gradient step over the whole model. */
function wholeStep<B>(lossFn: LossFn<B>): StepFn<B> & { dispose(): void } {
  return jit(
    valueAndGrad(
      (trainable: ParamTree, frozen: ParamTree, batch: B) => {
        const { loss, metrics } = lossFn(unflattenNamed([...flattenNamed(trainable), ...flattenNamed(frozen)]), batch);
        return [loss, metrics];
      },
      { hasAux: true },
    ),
  ) as unknown as StepFn<B> & { dispose(): void };
}

async function logEval(core: TrainerCore, evaluate: () => Promise<Record<string, number>>): Promise<void> {
  const metrics = await evaluate();
  const prefixed: Record<string, number> = {};
  for (const [name, value] of Object.entries(metrics)) prefixed[`eval_${name}`] = value;
  core.log(prefixed);
}
