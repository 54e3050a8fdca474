/**
 * The options every trainer shares, named as Hugging Face `TrainingArguments`
 * names them (so a TRL user's YAML reads naturally). Defaults are TRL's
 * where it has one; each is listed by `precept train <algo> --help`.
 */
import { z } from "zod";

export const trainingConfigSchema = z.object({
  output_dir: z.string().min(1).describe("where checkpoints (checkpoint-<step>/), metrics.jsonl and the final model go"),
  overwrite_output_dir: z
    .boolean()
    .default(false)
    .describe(
      "start over in an output_dir that holds an earlier run (its checkpoints and metrics are removed); without it that is an error unless --resume",
    ),
  seed: z.number().int().default(42).describe("random seed (data order, initialisation, sampling)"),
  learning_rate: z.number().positive().default(5e-5).describe("peak learning rate of AdamW"),
  lr_scheduler_type: z.enum(["linear", "cosine", "constant"]).default("linear").describe("learning-rate schedule after warm-up"),
  warmup_steps: z.number().int().min(0).default(0).describe("steps of linear warm-up from 0"),
  weight_decay: z.number().min(0).default(0).describe("AdamW decoupled weight decay (matrices only)"),
  adam_beta1: z.number().min(0).lt(1).default(0.9).describe("AdamW β1"),
  adam_beta2: z.number().min(0).lt(1).default(0.999).describe("AdamW β2"),
  adam_epsilon: z.number().min(0).default(1e-8).describe("AdamW ε"),
  max_grad_norm: z.number().positive().nullable().default(1.0).describe("clip gradients to this global L2 norm (null: no clipping)"),
  per_device_train_batch_size: z.number().int().positive().default(8).describe("examples per micro-batch"),
  gradient_accumulation_steps: z.number().int().positive().default(1).describe("micro-batches per optimizer step"),
  num_train_epochs: z.number().positive().default(1).describe("passes over the dataset"),
  max_steps: z.number().int().default(-1).describe("optimizer steps; when > 0, overrides num_train_epochs"),
  logging_steps: z.number().int().positive().default(10).describe("write averaged metrics every N steps"),
  eval_steps: z.number().int().min(0).default(0).describe("evaluate every N steps (0: only at the end)"),
  save_steps: z.number().int().min(0).default(500).describe("save a checkpoint every N steps (0: only at the end)"),
  save_total_limit: z.number().int().positive().nullable().default(null).describe("keep at most N checkpoints (null: all)"),
  nonfinite: z
    .enum(["error", "skip"])
    .default("error")
    .describe("on a NaN/Inf loss or gradient: stop with an error naming the step, or skip the update"),
  lora: z
    .object({
      r: z.number().int().positive().default(8),
      lora_alpha: z.number().positive().default(16),
      lora_dropout: z.number().min(0).lt(1).default(0),
      target_modules: z.array(z.string()).optional(),
    })
    .nullable()
    .default(null)
    .describe('train a LoRA adapter instead of all weights, e.g. {"r": 8, "lora_alpha": 16} (null: full fine-tuning)'),
  progress: z.boolean().default(true).describe("show a progress bar"),
  strict: z
    .boolean()
    .default(false)
    .describe("exit non-zero when a quality gate fails (held-out accuracy at chance, a KL blow-up); without it they only print WARN lines"),
});
export type TrainingConfig = z.output<typeof trainingConfigSchema>;

/** Formats zod issues as `field "x.y": message` joined, for errors that name the config file. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `field "${issue.path.join(".") || "(root)"}": ${issue.message}`).join("; ");
}

/** Parses a trainer config, naming the source (file) in the error. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, source = "config"): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`${source}: ${formatIssues(parsed.error)}`);
  return parsed.data;
}
