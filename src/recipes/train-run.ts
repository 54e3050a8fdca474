/**
 * What `precept train <algorithm>` runs once its options are parsed: load the
 * model(s), read and tokenize the dataset, train, and say where the results are.
 */

import { join, resolve } from "node:path";
import { z } from "zod";
import { messageSchema, preferenceRowSchema, promptRowSchema, readJsonl, readJsonlLines, sftRowSchema } from "../data/dataset.js";
import { packExamples, preferenceExample, promptIds, sftExample } from "../data/examples.js";
import { initEngine } from "../engine/device.js";
import { loadModel } from "../models/io.js";
import type { CausalLM } from "../models/model.js";
import type { Tokenizer } from "../models/tokenizer.js";
import { StoreCache } from "../providers/store-cache.js";
import { chanceAccuracyGate, holdOut } from "../quality/accuracy.js";
import type { GateResult } from "../quality/gate.js";
import { klBlowupGate } from "../quality/kl.js";
import type {
  CpoConfig,
  DpoConfig,
  GrpoConfig,
  KtoConfig,
  OnlineDpoConfig,
  OrpoConfig,
  PpoConfig,
  RewardConfig,
  RlooConfig,
  SftConfig,
} from "../train/configs.js";
import { finalMetrics, headline, resolveResume } from "../train/core.js";
import { trainCpo, trainOrpo } from "../train/cpo.js";
import { trainDpo } from "../train/dpo.js";
import { trainGrpo, trainRloo } from "../train/group.js";
import { type KtoExample, trainKto, unpair } from "../train/kto.js";
import { type PairPreference, trainOnlineDpo } from "../train/online-dpo.js";
import { trainPpo } from "../train/ppo.js";
import { trainRewardModel } from "../train/reward.js";
import { trainSft } from "../train/sft.js";
import { finishGates } from "./trainer-gates.js";

type RunOptions = {
  resume?: string;
  /** PPO only: extra metrics per rollout (see `trainPpo`). */
  observe?: Parameters<typeof trainPpo>[0]["observe"];
  /** Online DPO with a judge: the store its judgements are kept in (default: precept.db). */
  db?: string;
};

async function load(path: string): Promise<{ model: CausalLM; tokenizer: Tokenizer }> {
  const model = await loadModel(path);
  if (!model.tokenizer) throw new Error(`${path}: the model has no tokenizer.json; training from text needs one`);
  return { model, tokenizer: model.tokenizer };
}

/**
 * Examples are truncated to `max_length`, but never beyond the model's positions:
 * past them a training step silently adds no position embedding (a one-hot of
 * nothing) and trains on garbage, which long HH-RLHF transcripts would hit.
 */
function lengthLimit(name: string, maxLength: number, model: CausalLM): number {
  const positions = model.dims.maxPositions;
  if (maxLength <= positions) return maxLength;
  console.error(
    `${name}: max_length ${maxLength} is more than the model's ${positions} positions; examples are truncated to ${positions} tokens`,
  );
  return positions;
}

function resumeDir(options: RunOptions, outputDir: string): string | undefined {
  return options.resume ? resolveResume(options.resume, outputDir) : undefined;
}

/** The end-of-run line: the values metrics.jsonl ends with (its last logging window), which the progress bar showed too. */
function report(name: string, outputDir: string, history: Record<string, number>[]): void {
  const final = finalMetrics(join(outputDir, "metrics.jsonl"));
  const shown = headline(final);
  console.log(
    `${name}: done after ${final.step ?? history.at(-1)?.step ?? 0} steps${shown ? ` (${shown}; last logging window, as in metrics.jsonl)` : ""}; model and checkpoints in ${outputDir}, metrics in ${outputDir}/metrics.jsonl`,
  );
}

export async function runSft(config: SftConfig, options: RunOptions): Promise<void> {
  await initEngine();
  const { model, tokenizer } = await load(config.model_name_or_path);
  const maxLength = lengthLimit("sft", config.max_length, model);
  const tokenize = async (path: string) =>
    (await readJsonlLines(path, sftRowSchema)).map(({ row, line }) =>
      sftExample(row, tokenizer, {
        maxLength,
        completionOnly: config.completion_only_loss,
        assistantOnly: config.assistant_only_loss,
        where: `${path}:${line}`,
      }),
    );
  const examples = await tokenize(config.train_file);
  const train = config.packing ? packExamples(examples, maxLength) : examples;
  const evalSet = config.eval_file ? await tokenize(config.eval_file) : undefined;
  const resume = resumeDir(options, config.output_dir);
  const { history } = await trainSft({ config, model, train, ...(evalSet ? { evalSet } : {}), ...(resume ? { resume } : {}) });
  model.dispose();
  report("sft", config.output_dir, history);
}

async function preferences(path: string, tokenizer: Tokenizer, maxLength: number) {
  return (await readJsonlLines(path, preferenceRowSchema)).map(({ row, line }) =>
    preferenceExample(row, tokenizer, { maxLength, where: `${path}:${line}` }),
  );
}

export async function runReward(config: RewardConfig, options: RunOptions): Promise<GateResult[]> {
  await initEngine();
  const { model, tokenizer } = await load(config.model_name_or_path);
  const toPairs = (rows: Awaited<ReturnType<typeof preferences>>) =>
    rows.map((r) => ({
      chosen: [...r.prompt, ...r.chosen],
      rejected: [...r.prompt, ...r.rejected],
      ...(r.margin !== undefined ? { margin: r.margin } : {}),
      ...(r.label !== undefined ? { label: r.label } : {}),
    }));
  const maxLength = lengthLimit("rm", config.max_length, model);
  const { train, evalSet, source } = await splitPairs(
    config,
    toPairs(await preferences(config.train_file, tokenizer, maxLength)),
    async (path) => toPairs(await preferences(path, tokenizer, maxLength)),
  );
  const resume = resumeDir(options, config.output_dir);
  const { history, heldOut } = await trainRewardModel({
    config,
    model,
    train,
    ...(evalSet ? { evalSet } : {}),
    ...(resume ? { resume } : {}),
  });
  model.dispose();
  report("rm", config.output_dir, history);
  return finishGates("rm", config, heldOut ? [chanceAccuracyGate(heldOut.accuracy, heldOut.pairs, { source })] : []);
}

/**
 * The eval file's pairs, or (without one) `eval_split` of the training pairs held out, so that the
 * chance gate has pairs the model did not train on.
 */
async function splitPairs<T>(
  config: { eval_file: string | null; eval_split: number; seed: number },
  rows: T[],
  read: (path: string) => Promise<T[]>,
): Promise<{ train: T[]; evalSet?: T[]; source: string }> {
  if (config.eval_file) return { train: rows, evalSet: await read(config.eval_file), source: `pairs of ${config.eval_file}` };
  const { train, heldOut } = holdOut(rows, config.eval_split, config.seed);
  return {
    train,
    ...(heldOut.length > 0 ? { evalSet: heldOut } : {}),
    source: `pairs held out of train_file (eval_split ${config.eval_split})`,
  };
}

export async function runDpo(config: DpoConfig, options: RunOptions): Promise<GateResult[]> {
  await initEngine();
  const { model, tokenizer } = await load(config.model_name_or_path);
  const ref = config.ref_model_name_or_path ? await loadModel(config.ref_model_name_or_path) : model.clone();
  const maxLength = lengthLimit("dpo", config.max_length, model);
  const { train, evalSet, source } = await splitPairs(config, await preferences(config.train_file, tokenizer, maxLength), (path) =>
    preferences(path, tokenizer, maxLength),
  );
  const resume = resumeDir(options, config.output_dir);
  const { history, heldOut } = await trainDpo({
    config,
    model,
    ref,
    train,
    ...(evalSet ? { evalSet } : {}),
    ...(resume ? { resume } : {}),
  });
  model.dispose();
  ref.dispose();
  report("dpo", config.output_dir, history);
  return finishGates(
    "dpo",
    config,
    heldOut ? [chanceAccuracyGate(heldOut.accuracy, heldOut.pairs, { trainer: "DPO policy", source })] : [],
  );
}

async function onlineInputs(config: PpoConfig | GrpoConfig | RlooConfig, options: RunOptions) {
  await initEngine();
  const { model: policy, tokenizer } = await load(config.model_name_or_path);
  if (!config.reward_model_path) {
    throw new Error(
      "reward_model_path is required on the command line (a reward function can be passed when calling the trainer from code)",
    );
  }
  const rewardModel = await loadModel(config.reward_model_path);
  if (!rewardModel.hasScoreHead)
    throw new Error(`${config.reward_model_path}: not a reward model (no score.weight); train one with \`precept train rm\``);
  const ref = config.ref_model_name_or_path ? await loadModel(config.ref_model_name_or_path) : policy.clone();
  const prompts = (await readJsonl(config.train_file, promptRowSchema)).map((row) => promptIds(row, tokenizer));
  const resume = resumeDir(options, config.output_dir);
  return { policy, ref, prompts, reward: { model: rewardModel }, ...(resume ? { resume } : {}) };
}

/** The models of an online run are freed when it ends, so a recipe's later stages have the memory (wasm has 4 GiB). */
function freeOnline(inputs: Awaited<ReturnType<typeof onlineInputs>>): void {
  inputs.policy.dispose();
  inputs.ref.dispose();
  inputs.reward.model.dispose();
}

export async function runPpo(config: PpoConfig, options: RunOptions): Promise<GateResult[]> {
  const inputs = await onlineInputs(config, options);
  const { history } = await trainPpo({ config, ...inputs, ...(options.observe ? { observe: options.observe } : {}) });
  freeOnline(inputs);
  report("ppo", config.output_dir, history);
  return finishGates("ppo", config, [klBlowupGate(history)]);
}

export async function runGrpo(config: GrpoConfig, options: RunOptions): Promise<GateResult[]> {
  const inputs = await onlineInputs(config, options);
  const { history } = await trainGrpo({ config, ...inputs });
  freeOnline(inputs);
  report("grpo", config.output_dir, history);
  return finishGates("grpo", config, [klBlowupGate(history)]);
}

export async function runRloo(config: RlooConfig, options: RunOptions): Promise<GateResult[]> {
  const inputs = await onlineInputs(config, options);
  const { history } = await trainRloo({ config, ...inputs });
  freeOnline(inputs);
  report("rloo", config.output_dir, history);
  return finishGates("rloo", config, [klBlowupGate(history)]);
}

/** KTO rows: unpaired {prompt, completion, label: bool}, or paired preference rows, each giving a desirable and an undesirable row. */
async function unpairedExamples(path: string, tokenizer: Tokenizer, maxLength: number): Promise<KtoExample[]> {
  const rows = await readJsonlLines(path, z.union([unpairedRowSchema, preferenceRowSchema]));
  return rows.flatMap(({ row, line }) => {
    const where = `${path}:${line}`;
    if (!("completion" in row)) return unpair([preferenceExample(row, tokenizer, { maxLength, where })]);
    const { ids, lossMask } = sftExample({ prompt: row.prompt, completion: row.completion }, tokenizer, { maxLength, where });
    const promptLength = Math.max(1, lossMask.indexOf(1) < 0 ? ids.length : lossMask.indexOf(1));
    return [{ prompt: ids.slice(0, promptLength), completion: ids.slice(promptLength), label: row.label }];
  });
}

const unpairedRowSchema = z.object({
  prompt: z.union([z.string(), z.array(messageSchema).min(1)]),
  completion: z.union([z.string(), z.array(messageSchema).min(1)]),
  label: z.boolean(),
});

export async function runKto(config: KtoConfig, options: RunOptions): Promise<void> {
  await initEngine();
  const { model, tokenizer } = await load(config.model_name_or_path);
  const ref = config.ref_model_name_or_path ? await loadModel(config.ref_model_name_or_path) : model.clone();
  const train = await unpairedExamples(config.train_file, tokenizer, lengthLimit("kto", config.max_length, model));
  const resume = resumeDir(options, config.output_dir);
  const { history } = await trainKto({ config, model, ref, train, ...(resume ? { resume } : {}) });
  model.dispose();
  ref.dispose();
  report("kto", config.output_dir, history);
}

export async function runOrpo(config: OrpoConfig, options: RunOptions): Promise<void> {
  await initEngine();
  const { model, tokenizer } = await load(config.model_name_or_path);
  const train = await preferences(config.train_file, tokenizer, lengthLimit("orpo", config.max_length, model));
  const resume = resumeDir(options, config.output_dir);
  const { history } = await trainOrpo({ config, model, train, ...(resume ? { resume } : {}) });
  model.dispose();
  report("orpo", config.output_dir, history);
}

/** CPO and SimPO (the same trainer, SimPO's defaults). */
export async function runCpo(config: CpoConfig, options: RunOptions): Promise<void> {
  await initEngine();
  const { model, tokenizer } = await load(config.model_name_or_path);
  const train = await preferences(
    config.train_file,
    tokenizer,
    lengthLimit(config.loss_type === "simpo" ? "simpo" : "cpo", config.max_length, model),
  );
  const resume = resumeDir(options, config.output_dir);
  const { history } = await trainCpo({ config, model, train, ...(resume ? { resume } : {}) });
  model.dispose();
  report(config.loss_type === "simpo" ? "simpo" : "cpo", config.output_dir, history);
}

/** The prompt as the user wrote it, for a judge: a single `Human: …\n\nAssistant:` turn's text, or a conversation's last user turn. */
function judgeText(prompt: string | { role: string; content: string }[]): string {
  if (typeof prompt !== "string") return prompt.filter((m) => m.role === "user").at(-1)?.content ?? prompt.at(-1)?.content ?? "";
  const turn = /^\s*Human: ([\s\S]*?)\n\nAssistant:\s*$/.exec(prompt);
  return turn && !turn[1]?.includes("\n\nHuman:") ? (turn[1] as string) : prompt;
}

/** Online DPO: each fresh pair is ranked by a reward model, or by a judge provider applying the constitution (cai label's machinery). */
export async function runOnlineDpo(config: OnlineDpoConfig, options: RunOptions): Promise<void> {
  if ((config.reward_model_path === null) === (config.judge === null)) {
    throw new Error(
      "online-dpo: give one of reward_model_path (a reward model) or judge (a provider id, with constitution), not both or neither",
    );
  }
  if (config.judge && !config.constitution)
    throw new Error("online-dpo: judge needs constitution, the file whose principles it compares the samples by");
  await initEngine();
  const { model: policy, tokenizer } = await load(config.model_name_or_path);
  const ref = config.ref_model_name_or_path ? await loadModel(config.ref_model_name_or_path) : policy.clone();
  const rows = await readJsonl(config.train_file, promptRowSchema);
  const prompts = rows.map((row) => promptIds(row, tokenizer));
  const resume = resumeDir(options, config.output_dir);
  const close: (() => Promise<void> | void)[] = [];
  let preference: PairPreference;
  if (config.reward_model_path) {
    const rewardModel = await loadModel(config.reward_model_path);
    if (!rewardModel.hasScoreHead)
      throw new Error(`${config.reward_model_path}: not a reward model (no score.weight); train one with \`precept train rm\``);
    preference = { model: rewardModel };
    close.push(() => rewardModel.dispose());
  } else {
    const [{ openStore }, { loadConstitution }, { openProvider }, { constitutionJudge }] = await Promise.all([
      import("../store/store.js"),
      import("../constitution/load.js"),
      import("../providers/open.js"),
      import("../cai/online-judge.js"),
    ]);
    const constitution = loadConstitution(config.constitution as string);
    const store = await openStore(options.db ?? "precept.db");
    close.push(() => store.close());
    const feedback = await openProvider(config.judge as string, { cache: new StoreCache(store) });
    // One run per output_dir and judge, so a resumed run reuses the judgements it already stored.
    const runId = `online-dpo:${resolve(config.output_dir)}:${feedback.id}:${constitution.hash.slice(0, 12)}`;
    const mode = config.judge?.startsWith("anthropic:") ? "chat" : "completion";
    preference = { judge: await constitutionJudge({ store, runId, feedback, constitution, seed: config.seed, mode }) };
    console.error(
      `online-dpo: ${feedback.id} judges each pair by ${constitution.name}; its labels are records of run ${runId} in the store`,
    );
  }
  try {
    const { history } = await trainOnlineDpo({
      config,
      policy,
      ref,
      prompts,
      promptTexts: rows.map((row) => judgeText(row.prompt)),
      preference,
      ...(resume ? { resume } : {}),
    });
    report("online-dpo", config.output_dir, history);
  } finally {
    policy.dispose();
    ref.dispose();
    for (const done of close) await done();
  }
}
