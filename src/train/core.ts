/**
 * What every trainer shares, whatever its loss: the split of the model into
 * trainable and frozen weights (all of them, or a LoRA adapter), AdamW with a
 * learning-rate schedule and global-norm clipping, the non-finite check, the
 * step counter, metrics (JSONL in TRL's names, plus a progress bar), and
 * checkpoints that resume exactly.
 *
 * Checkpoints follow the Hugging Face Trainer layout:
 * `output_dir/checkpoint-<step>/` holds the model (or the PEFT adapter),
 * `optimizer.safetensors` and `trainer_state.json` (step, epoch, RNG state,
 * data position). A checkpoint is written into a temporary directory that is
 * renamed when complete, so a process killed while saving leaves the
 * previous checkpoint intact and no half-written one under a final name.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import cliProgress from "cli-progress";
import { openTensors, saveTensors, writeJsonAtomic } from "../engine/checkpoint.js";
import { clipByGlobalNorm, globalNorm } from "../engine/clip.js";
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import { adamw, type Optimizer, type OptimizerState, optimizerStateEntries, optimizerStateFromEntries } from "../engine/optim.js";
import { readNumber } from "../engine/ownership.js";
import { Rng, type RngState } from "../engine/rng.js";
import { makeSchedule, type Schedule } from "../engine/schedule.js";
import { disposeTree, flattenNamed, type ParamTree, treeToHost, unflattenNamed } from "../engine/tree.js";
import { saveModel } from "../models/io.js";
import { readJson } from "../models/json.js";
import { addLora, saveAdapter } from "../models/lora.js";
import type { CausalLM } from "../models/model.js";
import type { TrainingConfig } from "./config.js";

/** Where the data iterator was when a checkpoint was taken. */
export type DataPosition = { epoch: number; batchInEpoch: number };

export type TrainerState = {
  global_step: number;
  epoch: number;
  rng: RngState;
  data: DataPosition;
  optimizer: { name: string; step: number };
  best_metric: number | null;
  trainer: string;
  /** Trainer-specific state that must survive a resume (e.g. PPO's adaptive KL coefficient). */
  extra: Record<string, unknown>;
};

export class NonFiniteError extends Error {}

export class TrainerCore {
  trainable: ParamTree;
  frozen: ParamTree;
  readonly optimizer: Optimizer;
  optState: OptimizerState;
  readonly schedule: Schedule;
  readonly rng: Rng;
  step = 0;
  data: DataPosition = { epoch: 0, batchInEpoch: 0 };
  /** Saved in trainer_state.json and restored by `resume` (see TrainerState.extra). */
  extra: Record<string, unknown> = {};
  readonly metricsPath: string;
  #bar: cliProgress.SingleBar | null = null;
  /** The last logged value of each metric: what the progress bar shows, and what metrics.jsonl ends with. */
  #logged: Record<string, number> = {};

  constructor(
    readonly trainer: string,
    readonly model: CausalLM,
    readonly config: TrainingConfig,
    readonly totalSteps: number,
  ) {
    if (config.lora) {
      if (!model.lora) addLora(model, config.lora, new Rng(config.seed));
      const all = flattenNamed(model.params);
      // The adapter trains, and so do reward/value heads (they are new); the base weights stay frozen.
      const trains = (name: string) => name.includes(".lora_") || name.startsWith("score.") || name.startsWith("v_head.");
      this.trainable = unflattenNamed(all.filter(([n]) => trains(n)));
      this.frozen = unflattenNamed(all.filter(([n]) => !trains(n)));
    } else {
      this.trainable = model.params;
      this.frozen = {};
    }
    this.optimizer = adamw({
      beta1: config.adam_beta1,
      beta2: config.adam_beta2,
      eps: config.adam_epsilon,
      weightDecay: config.weight_decay,
    });
    this.optState = this.optimizer.init(this.trainable);
    this.schedule = makeSchedule({
      type: config.lr_scheduler_type,
      peak: config.learning_rate,
      warmupSteps: config.warmup_steps,
      totalSteps: Math.max(1, totalSteps),
    });
    this.rng = new Rng(config.seed);
    mkdirSync(config.output_dir, { recursive: true });
    removeCrashedSaves(config.output_dir);
    this.metricsPath = join(config.output_dir, "metrics.jsonl");
  }

  /** Whether the base model's weights train (full fine-tuning), not only an adapter and heads: then the embedding and LM head get gradients. */
  get baseTrains(): boolean {
    return !this.config.lora;
  }

  /** The learning rate of the next update. */
  get learningRate(): number {
    return this.schedule(this.step);
  }

  /** Puts the model's tree back together from the trainable and frozen parts (same arrays, no copies). */
  #syncModel(): void {
    this.model.params = unflattenNamed([...flattenNamed(this.trainable), ...flattenNamed(this.frozen)]);
  }

  /**
   * Clips, checks and applies one update (consumes `grads`). Returns the
   * gradient norm before clipping. A non-finite norm (or `loss`) stops with an
   * error naming the step, or skips the update when `nonfinite: skip`.
   */
  async applyGradients(grads: ParamTree, loss?: number): Promise<{ gradNorm: number; skipped: boolean }> {
    const step = this.step + 1;
    let norm: JaxArray;
    if (this.config.max_grad_norm !== null) {
      const clipped = clipByGlobalNorm(grads, this.config.max_grad_norm);
      grads = clipped.grads;
      norm = clipped.norm;
    } else {
      norm = globalNorm(grads);
    }
    const gradNorm = await readNumber(norm);
    if (!Number.isFinite(gradNorm) || (loss !== undefined && !Number.isFinite(loss))) {
      disposeTree(grads);
      const what = loss !== undefined && !Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${gradNorm}`;
      if (this.config.nonfinite === "skip") {
        this.step = step;
        this.log({ skipped_nonfinite: 1 });
        return { gradNorm, skipped: true };
      }
      throw new NonFiniteError(
        `${this.trainer}: step ${step}: ${what}; lower learning_rate, check the data, or set nonfinite: skip to skip such steps`,
      );
    }
    ({ params: this.trainable, state: this.optState } = this.optimizer.update(
      this.trainable,
      grads,
      this.optState,
      this.schedule(this.step),
    ));
    this.#syncModel();
    this.step = step;
    return { gradNorm, skipped: false };
  }

  /** Appends one metrics object (TRL names) to metrics.jsonl and updates the progress bar. */
  log(metrics: Record<string, number>): void {
    const record = { step: this.step, epoch: Number(this.data.epoch.toFixed(4)), ...metrics };
    writeFileSync(this.metricsPath, `${JSON.stringify(record)}\n`, { flag: "a" });
    Object.assign(this.#logged, metrics);
    this.#bar?.update(this.step, { metrics: headline(this.#logged) || "-" });
  }

  startProgress(): void {
    if (!this.config.progress) return;
    this.#bar = new cliProgress.SingleBar(
      {
        format: `${this.trainer} [{bar}] {value}/{total} steps | {metrics} | {eta_formatted} left`,
        hideCursor: true,
        noTTYOutput: true,
        notTTYSchedule: 5000,
      },
      cliProgress.Presets.shades_classic,
    );
    this.#bar.start(this.totalSteps, this.step, { metrics: headline(this.#logged) || "-" });
  }

  stopProgress(): void {
    this.#bar?.stop();
    this.#bar = null;
  }

  /**
   * The next `count` items of a dataset in this epoch's shuffled order (a
   * pure function of seed and epoch, so a resume continues the same order),
   * advancing the data position; the epoch rolls over when the items run out.
   */
  takeNext<T>(items: T[], count: number): T[] {
    const order = epochRng(this.config.seed, this.data.epoch).shuffle([...items.keys()]);
    const start = this.data.batchInEpoch * count;
    const picked = order.slice(start, start + count).map((i) => items[i] as T);
    this.data =
      start + count >= items.length
        ? { epoch: this.data.epoch + 1, batchInEpoch: 0 }
        : { epoch: this.data.epoch, batchInEpoch: this.data.batchInEpoch + 1 };
    return picked;
  }

  /** The last checkpoint, and the trained model (or adapter) in `output_dir` itself. */
  async finish(): Promise<void> {
    await this.save();
    if (this.model.lora) await saveAdapter(this.model, this.config.output_dir, this.model.source ?? "");
    else await saveModel(this.model, this.config.output_dir);
    // The optimizer's moments (2x the trainable weights) are not needed once training is over.
    for (const slot of Object.values(this.optState.slots)) disposeTree(slot);
    this.optState = { ...this.optState, slots: {} };
  }

  /** Writes `checkpoint-<step>/` atomically and prunes old ones past `save_total_limit`. */
  async save(): Promise<string> {
    const final = join(this.config.output_dir, `checkpoint-${this.step}`);
    const temp = `${final}.tmp-${process.pid}`;
    rmSync(temp, { recursive: true, force: true });
    if (this.model.lora) {
      await saveAdapter(this.model, temp, this.model.source ?? "");
      // Heads trained next to an adapter (a LoRA reward model) are not part of the PEFT files.
      const heads = flattenNamed(this.trainable).filter(([n]) => !n.includes(".lora_"));
      if (heads.length > 0) saveTensors(temp, [...(await treeToHost(unflattenNamed(heads))).entries()], { base: "heads" });
    } else {
      await saveModel(this.model, temp);
    }
    const optimizerHost = await treeToHost(unflattenNamed(optimizerStateEntries(this.optState)));
    saveTensors(temp, [...optimizerHost.entries()], { base: "optimizer", metadata: { format: "pt" } });
    faultInjectionPause();
    const state: TrainerState = {
      global_step: this.step,
      epoch: this.data.epoch,
      rng: this.rng.getState(),
      data: this.data,
      optimizer: { name: this.optimizer.name, step: this.optState.step },
      best_metric: null,
      trainer: this.trainer,
      extra: this.extra,
    };
    writeJsonAtomic(join(temp, "trainer_state.json"), state);
    rmSync(final, { recursive: true, force: true });
    renameSync(temp, final);
    this.#prune();
    return final;
  }

  #prune(): void {
    const limit = this.config.save_total_limit;
    if (limit === null) return;
    const steps = listCheckpoints(this.config.output_dir);
    for (const step of steps.slice(0, Math.max(0, steps.length - limit))) {
      rmSync(join(this.config.output_dir, `checkpoint-${step}`), { recursive: true, force: true });
    }
  }

  /**
   * Restores weights, optimizer state, RNG, step and data position from a
   * checkpoint directory, so training continues exactly as if uninterrupted.
   */
  async resume(dir: string): Promise<void> {
    const statePath = join(dir, "trainer_state.json");
    if (!existsSync(statePath)) throw new Error(`${dir}: no trainer_state.json (not a complete Precept checkpoint)`);
    const state = readJson(statePath) as TrainerState;
    if (state.trainer !== this.trainer) throw new Error(`${dir} is a ${state.trainer} checkpoint, not ${this.trainer}`);
    // Weights: replace the trainable leaves with the checkpoint's.
    const names = flattenNamed(this.trainable).map(([n]) => n);
    const leaves = readCheckpointLeaves(dir, names);
    disposeTree(this.trainable);
    this.trainable = unflattenNamed(leaves);
    this.#syncModel();
    // Optimizer state.
    const tensors = openTensors(dir, "optimizer");
    try {
      const entries: [string, JaxArray][] = tensors
        .names()
        .map((n) => [n, np.array(tensors.readFloat32(n)).reshape(tensors.info(n).shape)]);
      for (const slot of Object.values(this.optState.slots)) disposeTree(slot);
      this.optState = optimizerStateFromEntries(this.optimizer, state.optimizer.step, entries);
    } finally {
      tensors.close();
    }
    this.rng.setState(state.rng);
    this.step = state.global_step;
    keepMetricsThrough(this.metricsPath, state.global_step);
    this.data = state.data;
    this.extra = state.extra ?? {};
  }
}

/** The metrics the progress bar and the end-of-run line show, when a trainer logs them. */
export const HEADLINE_METRICS = [
  "loss",
  "accuracy",
  "rewards/accuracies",
  "objective/scores",
  "objective/kl",
  "reward",
  "eval_loss",
  "eval_accuracy",
  "eval_rewards/accuracies",
];

/** `loss 0.1234, objective/kl 0.5000`: a record's headline metrics in the record's order. */
export function headline(record: Record<string, number>): string {
  return Object.entries(record)
    .filter(([name, value]) => HEADLINE_METRICS.includes(name) && typeof value === "number")
    .map(([name, value]) => `${name} ${value.toFixed(4)}`)
    .join(", ");
}

/**
 * The last logged value of every metric in a metrics.jsonl (later lines win):
 * the same values the progress bar ended on. For SFT, RM and DPO-style
 * trainers a training line is the mean of its logging window (the last one
 * ends at the final step); the online trainers log every step.
 */
export function finalMetrics(path: string): Record<string, number> {
  const merged: Record<string, number> = {};
  if (!existsSync(path)) return merged;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    Object.assign(merged, JSON.parse(line) as Record<string, number>);
  }
  return merged;
}

/** The shuffled order of an epoch: seeded by (seed, epoch) only, so resuming reproduces it. */
export function epochRng(seed: number, epoch: number): Rng {
  return new Rng((seed * 1_000_003 + epoch * 7919) >>> 0);
}

/** Steps of the complete checkpoints in `dir`, ascending. */
export function listCheckpoints(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => /^checkpoint-(\d+)$/.exec(name)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .filter((step) => existsSync(join(dir, `checkpoint-${step}`, "trainer_state.json")))
    .sort((a, b) => a - b);
}

/**
 * Removes `checkpoint-<step>.tmp-<pid>` directories that a process killed
 * mid-save left behind (its pid is gone, or is this process: one save at a time).
 */
export function removeCrashedSaves(dir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const pid = /^checkpoint-\d+\.tmp-(\d+)$/.exec(name)?.[1];
    if (pid === undefined || (Number(pid) !== process.pid && processAlive(Number(pid)))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * On resume from step N, metrics lines past N (logged by the interrupted run
 * after its last checkpoint, or a line cut off by the kill) are dropped, so
 * metrics.jsonl reads as one uninterrupted run.
 */
function keepMetricsThrough(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => {
      try {
        const logged = (JSON.parse(line) as { step?: unknown }).step;
        return typeof logged === "number" && logged <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, kept.map((line) => `${line}\n`).join(""));
}

/** `--resume latest` → the newest complete checkpoint in the output directory. */
export function resolveResume(resume: string, outputDir: string): string {
  if (resume !== "latest") return resume;
  const steps = listCheckpoints(outputDir);
  if (steps.length === 0) throw new Error(`--resume latest: no complete checkpoint in ${outputDir}`);
  return join(outputDir, `checkpoint-${steps[steps.length - 1]}`);
}

/**
 * The named weights from a checkpoint: from `model.safetensors` (full
 * fine-tuning) or from the PEFT adapter file plus `heads.safetensors` (LoRA).
 */
function readCheckpointLeaves(dir: string, names: string[]): [string, JaxArray][] {
  const sources = existsSync(join(dir, "adapter_config.json"))
    ? [
        { base: "adapter_model", prefix: "base_model.model." },
        { base: "heads", prefix: "" },
      ]
    : [{ base: "model", prefix: "" }];
  const found = new Map<string, JaxArray>();
  for (const { base, prefix } of sources) {
    if (!existsSync(join(dir, `${base}.safetensors`)) && !existsSync(join(dir, `${base}.safetensors.index.json`))) continue;
    const tensors = openTensors(dir, base);
    try {
      for (const name of names) {
        if (found.has(name) || !tensors.names().includes(prefix + name)) continue;
        const stored = prefix + name;
        found.set(name, np.array(tensors.readFloat32(stored)).reshape(tensors.info(stored).shape));
      }
    } finally {
      tensors.close();
    }
  }
  const missing = names.filter((n) => !found.has(n));
  if (missing.length > 0) {
    for (const leaf of found.values()) leaf.dispose();
    throw new Error(`${dir}: checkpoint lacks trainable tensor(s): ${missing.slice(0, 5).join(", ")}`);
  }
  return names.map((n) => [n, found.get(n) as JaxArray]);
}

/** Test hook: `PRECEPT_CHECKPOINT_PAUSE_MS` sleeps mid-save so a test can kill the process there. */
function faultInjectionPause(): void {
  const ms = Number(process.env.PRECEPT_CHECKPOINT_PAUSE_MS ?? 0);
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
