/**
 * The options every trainer shares, named as Hugging Face `TrainingArguments`
 * names them (so a TRL user's YAML reads naturally). Defaults are TRL's
 * where it has one; each is listed by `precept train <algo> --help`.
 */
import { z } from "zod";

export const trainingConfigSchema = z.object({
  /** Where checkpoints (`checkpoint-<step>/`), metrics (`metrics.jsonl`) and the final model go. */
  output_dir: z.string().min(1),
  seed: z.number().int().default(42),
  learning_rate: z.number().positive().default(5e-5),
  lr_scheduler_type: z.enum(["linear", "cosine", "constant"]).default("linear"),
  warmup_steps: z.number().int().min(0).default(0),
  weight_decay: z.number().min(0).default(0),
  adam_beta1: z.number().min(0).lt(1).default(0.9),
  adam_beta2: z.number().min(0).lt(1).default(0.999),
  adam_epsilon: z.number().min(0).default(1e-8),
  max_grad_norm: z.number().positive().nullable().default(1.0),
  per_device_train_batch_size: z.number().int().positive().default(8),
  gradient_accumulation_steps: z.number().int().positive().default(1),
  num_train_epochs: z.number().positive().default(1),
  /** When > 0, overrides num_train_epochs. */
  max_steps: z.number().int().default(-1),
  logging_steps: z.number().int().positive().default(10),
  /** Evaluate every N optimizer steps (0: never). */
  eval_steps: z.number().int().min(0).default(0),
  /** Save a checkpoint every N optimizer steps (0: only at the end). */
  save_steps: z.number().int().min(0).default(500),
  /** Keep at most this many checkpoints (oldest removed); null keeps all. */
  save_total_limit: z.number().int().positive().nullable().default(null),
  /** What a non-finite loss or gradient does: stop with an error naming the step, or skip that update. */
  nonfinite: z.enum(["error", "skip"]).default("error"),
  /** Train a LoRA adapter instead of all weights (PEFT-style options). */
  lora: z
    .object({
      r: z.number().int().positive().default(8),
      lora_alpha: z.number().positive().default(16),
      lora_dropout: z.number().min(0).lt(1).default(0),
      target_modules: z.array(z.string()).optional(),
    })
    .nullable()
    .default(null),
  /** Show a progress bar on the console. */
  progress: z.boolean().default(true),
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
