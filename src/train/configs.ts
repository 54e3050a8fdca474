/**
 * The config of each trainer: the shared options (config.ts) plus its own,
 * with TRL's names and defaults (see ../shared/reference/rlhf-facts.md). Kept
 * free of jax-js imports so the CLI can build `--help` before the engine starts.
 */
import { z } from "zod";
import { trainingConfigSchema } from "./config.js";

const dataFields = {
  model_name_or_path: z.string().min(1).describe("model to train: a directory, local:DIR or hf:Org/Name@revision"),
  train_file: z.string().min(1).describe("training data, JSONL in TRL's format for this trainer"),
  eval_file: z.string().min(1).nullable().default(null).describe("evaluation data in the same format (null: none)"),
  max_length: z.number().int().positive().default(512).describe("truncate tokenized examples to this many tokens"),
};

export const sftConfigSchema = trainingConfigSchema.extend({
  ...dataFields,
  learning_rate: z.number().positive().default(2e-5).describe("peak learning rate of AdamW"),
  completion_only_loss: z.boolean().default(true).describe("loss on completion tokens only (prompt-completion data)"),
  assistant_only_loss: z.boolean().default(true).describe("loss on assistant turns only (messages data)"),
  packing: z.boolean().default(false).describe("concatenate examples into full rows of max_length"),
});
export type SftConfig = z.output<typeof sftConfigSchema>;

/** Held out of train_file when no eval_file is given, so the chance gate (src/quality/accuracy.ts) always has pairs to judge. */
const evalSplit = z
  .number()
  .min(0)
  .lt(1)
  .default(0.1)
  .describe("share of train_file held out to check accuracy against chance when eval_file is null (0: none)");

export const rewardConfigSchema = trainingConfigSchema.extend({
  ...dataFields,
  eval_split: evalSplit,
  learning_rate: z.number().positive().default(1e-5).describe("peak learning rate of AdamW"),
  center_rewards_coefficient: z.number().min(0).nullable().default(null).describe("weight of mean((r_c + r_r)²), keeping rewards near 0"),
});
export type RewardConfig = z.output<typeof rewardConfigSchema>;

export const dpoConfigSchema = trainingConfigSchema.extend({
  ...dataFields,
  eval_split: evalSplit,
  learning_rate: z.number().positive().default(1e-6).describe("peak learning rate of AdamW"),
  ref_model_name_or_path: z.string().min(1).nullable().default(null).describe("frozen reference model (null: the initial policy)"),
  beta: z.number().positive().default(0.1).describe("β: strength of the implicit KL constraint"),
  loss_type: z
    .enum(["sigmoid", "robust", "hinge", "ipo"])
    .default("sigmoid")
    .describe("sigmoid (DPO, cDPO with label_smoothing), robust (rDPO), hinge (SLiC) or ipo"),
  label_smoothing: z.number().min(0).lt(0.5).default(0).describe("cDPO / rDPO: probability that a preference label is flipped"),
});
export type DpoConfig = z.output<typeof dpoConfigSchema>;

const onlineFields = {
  model_name_or_path: dataFields.model_name_or_path,
  train_file: z.string().min(1).describe("prompts, JSONL rows with a `prompt` field"),
  ref_model_name_or_path: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe("frozen reference model for the KL penalty (null: the initial policy)"),
  reward_model_path: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe("reward model with a score head (or pass a reward function in code)"),
  response_length: z.number().int().positive().default(53).describe("maximum new tokens per response"),
  temperature: z.number().positive().default(0.7).describe("sampling temperature of rollouts"),
  missing_eos_penalty: z
    .number()
    .min(0)
    .nullable()
    .default(null)
    .describe("subtracted from the score of responses that did not end with EOS"),
  total_episodes: z
    .number()
    .int()
    .positive()
    .nullable()
    .default(null)
    .describe("responses to train on in total (null: num_train_epochs over the prompts)"),
};

export const ppoConfigSchema = trainingConfigSchema.extend({
  ...onlineFields,
  learning_rate: z.number().positive().default(3e-6).describe("peak learning rate of AdamW"),
  num_ppo_epochs: z.number().int().positive().default(4).describe("optimization epochs over each rollout batch"),
  num_mini_batches: z.number().int().positive().default(1).describe("minibatches per rollout batch"),
  kl_coef: z.number().min(0).default(0.05).describe("β of the per-token KL penalty in the reward (initial value when adaptive)"),
  kl_estimator: z.enum(["k1", "k3"]).default("k1").describe("KL estimator: k1 = log π − log π_ref, k3 = always ≥ 0"),
  adaptive_kl: z
    .object({ target: z.number().positive().default(6), horizon: z.number().positive().default(10000) })
    .nullable()
    .default(null)
    .describe('adapt kl_coef toward a target KL (Ziegler et al.), e.g. {"target": 6, "horizon": 10000}'),
  cliprange: z.number().positive().default(0.2).describe("ε of the clipped policy surrogate"),
  cliprange_value: z.number().positive().default(0.2).describe("ε of the clipped value loss"),
  vf_coef: z.number().min(0).default(0.1).describe("weight of the value loss"),
  gamma: z.number().min(0).max(1).default(1).describe("GAE discount γ"),
  lam: z.number().min(0).max(1).default(0.95).describe("GAE λ"),
  whiten_rewards: z.boolean().default(false).describe("whiten per-token rewards before GAE"),
  reward_clip: z.number().positive().nullable().default(null).describe("clip scores to ±this (null: no clipping)"),
});
export type PpoConfig = z.output<typeof ppoConfigSchema>;

const groupFields = {
  num_generations: z.number().int().min(2).default(8).describe("G: responses sampled per prompt"),
  num_iterations: z.number().int().positive().default(1).describe("optimization passes per group batch"),
  epsilon: z.number().positive().default(0.2).describe("ε of the clipped surrogate"),
};

export const grpoConfigSchema = trainingConfigSchema.extend({
  ...onlineFields,
  ...groupFields,
  learning_rate: z.number().positive().default(1e-6).describe("peak learning rate of AdamW"),
  beta: z.number().min(0).default(0).describe("β of the k3 KL term in the loss (0: no reference model needed)"),
  loss_type: z
    .enum(["grpo", "bnpo", "dr_grpo", "dapo"])
    .default("dapo")
    .describe(
      "token-loss normalisation: dapo (tokens of the batch), grpo (per sequence; length-biased), bnpo, dr_grpo (B·response_length)",
    ),
  epsilon_high: z.number().positive().nullable().default(null).describe("upper clip ε_high (DAPO clip-higher, e.g. 0.28; null: epsilon)"),
  scale_rewards: z
    .preprocess((v) => (v === true ? "group" : v === false ? "none" : v), z.enum(["group", "batch", "none"]))
    .default("group")
    .describe("divide centred rewards by the std of the group, of the whole batch, or not at all (true = group, false = none)"),
  mask_truncated_completions: z.boolean().default(false).describe("leave completions that did not end with EOS out of the loss"),
  reward_weights: z
    .array(z.number())
    .nullable()
    .default(null)
    .describe("weight of each reward function in the summed reward (null: all 1)"),
});
export type GrpoConfig = z.output<typeof grpoConfigSchema>;

export const rlooConfigSchema = trainingConfigSchema.extend({
  ...onlineFields,
  ...groupFields,
  learning_rate: z.number().positive().default(3e-6).describe("peak learning rate of AdamW"),
  kl_coef: z.number().min(0).default(0.05).describe("β: the sequence KL to the reference is subtracted from the reward"),
});
export type RlooConfig = z.output<typeof rlooConfigSchema>;

export const ktoConfigSchema = trainingConfigSchema.extend({
  ...dataFields,
  train_file: z
    .string()
    .min(1)
    .describe("unpaired preferences, JSONL {prompt, completion, label: bool}; paired {prompt, chosen, rejected} rows are unpaired"),
  learning_rate: z.number().positive().default(1e-6).describe("peak learning rate of AdamW"),
  ref_model_name_or_path: z.string().min(1).nullable().default(null).describe("frozen reference model (null: the initial policy)"),
  beta: z.number().positive().default(0.1).describe("β: strength of the implicit KL constraint"),
  desirable_weight: z.number().positive().default(1).describe("λ_D: weight of desirable (label true) examples"),
  undesirable_weight: z.number().positive().default(1).describe("λ_U: weight of undesirable (label false) examples"),
});
export type KtoConfig = z.output<typeof ktoConfigSchema>;

export const orpoConfigSchema = trainingConfigSchema.extend({
  ...dataFields,
  learning_rate: z.number().positive().default(1e-6).describe("peak learning rate of AdamW"),
  beta: z.number().positive().default(0.1).describe("λ: weight of the odds-ratio term beside the NLL"),
});
export type OrpoConfig = z.output<typeof orpoConfigSchema>;

export const cpoConfigSchema = trainingConfigSchema.extend({
  ...dataFields,
  learning_rate: z.number().positive().default(1e-6).describe("peak learning rate of AdamW"),
  beta: z.number().positive().default(0.1).describe("β of the preference loss"),
  loss_type: z
    .enum(["sigmoid", "hinge", "ipo", "simpo"])
    .default("sigmoid")
    .describe("sigmoid, hinge, ipo or simpo (SimPO, with cpo_alpha 0)"),
  label_smoothing: z.number().min(0).lt(0.5).default(0).describe("probability that a preference label is flipped (sigmoid, simpo)"),
  cpo_alpha: z.number().min(0).default(1).describe("weight of the NLL (behaviour cloning) term on the chosen completions"),
  simpo_gamma: z.number().min(0).default(0.5).describe("SimPO's target reward margin γ"),
});
export type CpoConfig = z.output<typeof cpoConfigSchema>;

/** SimPO as TRL runs it: the CPO trainer with loss_type simpo, no NLL term, β 2.0, γ 0.5. */
export const simpoConfigSchema = cpoConfigSchema.extend({
  beta: z.number().positive().default(2).describe("β: scale of the length-normalised reward"),
  loss_type: cpoConfigSchema.shape.loss_type.default("simpo"),
  cpo_alpha: z.number().min(0).default(0).describe("weight of the NLL term (0: pure SimPO; > 0: CPO-SimPO)"),
});

/** Online DPO (TRL OnlineDPOConfig): two fresh samples per prompt, judged, then the DPO loss on the pair. */
export const onlineDpoConfigSchema = trainingConfigSchema.extend({
  model_name_or_path: dataFields.model_name_or_path,
  train_file: onlineFields.train_file,
  ref_model_name_or_path: z.string().min(1).nullable().default(null).describe("frozen reference model (null: the initial policy)"),
  reward_model_path: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe("reward model with a score head that ranks the two samples (or give judge)"),
  judge: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe("provider id (local:DIR, openai:MODEL, …) that compares the two samples against --constitution, as `cai label` does"),
  constitution: z.string().min(1).nullable().default(null).describe("constitution file the judge applies (with judge)"),
  learning_rate: z.number().positive().default(5e-7).describe("peak learning rate of AdamW"),
  max_new_tokens: z.number().int().positive().default(64).describe("maximum new tokens per sample"),
  temperature: z.number().positive().default(0.9).describe("sampling temperature of the two samples"),
  missing_eos_penalty: onlineFields.missing_eos_penalty,
  beta: z.number().positive().default(0.1).describe("β: strength of the implicit KL constraint"),
  loss_type: z.enum(["sigmoid", "ipo"]).default("sigmoid").describe("sigmoid (DPO) or ipo"),
});
export type OnlineDpoConfig = z.output<typeof onlineDpoConfigSchema>;
