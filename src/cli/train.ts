/**
 * `precept train <algorithm> --config file.yaml [--option value ...] [--resume DIR|latest]`.
 * Each trainer's options come from its zod schema (see schema-options.ts),
 * so `precept train sft --help` lists them all with their defaults.
 */
import type { Command } from "commander";
import type { z } from "zod";
import { closestKey } from "../recipes/closest-key.js";
import { addSchemaOptions, mergeFlags, readConfigFile } from "./schema-options.js";
import { storeLocation } from "./store-location.js";

/** A trainer as the CLI sees it; `run` names the function in recipes/train-run.ts, loaded only when the command runs (after --threads is applied). */
export type TrainerEntry = { description: string; schema: z.ZodObject; run: string };

export function addTrainCommands(program: Command, trainers: Record<string, TrainerEntry>): void {
  const train = program
    .command("train")
    .description(
      "train a model: sft, rm, dpo, online-dpo, kto, orpo, cpo, simpo, ppo, grpo or rloo (see `precept train <algorithm> --help`)",
    );
  for (const [name, entry] of Object.entries(trainers)) {
    const command = train
      .command(name)
      .description(entry.description)
      .option("--config <file>", "YAML or JSON file with the options below (flags override it)")
      .option("--resume <dir>", "continue from a checkpoint directory, or `latest` for the newest in output_dir");
    addSchemaOptions(command, entry.schema);
    command.action(async () => {
      const opts = command.opts<{ config?: string; resume?: string }>();
      const fromFile = opts.config ? readConfigFile(opts.config) : {};
      if (opts.config) checkKnownKeys(opts.config, fromFile, Object.keys(entry.schema.shape));
      const raw = mergeFlags(command, entry.schema, fromFile);
      const parsed = entry.schema.safeParse(raw);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `field "${i.path.join(".") || "(root)"}": ${i.message}`).join("; ");
        throw new Error(`${opts.config ?? "options"}: ${issues}`);
      }
      const config = parsed.data as Record<string, unknown> & { output_dir: string; overwrite_output_dir: boolean };
      const { prepareOutputDir } = await import("../train/output-dir.js");
      const { removed } = prepareOutputDir({
        outputDir: config.output_dir,
        inputs: Object.fromEntries(MODEL_FIELDS.map((field) => [field, config[field] as string | null | undefined])),
        ...(opts.resume ? { resume: opts.resume } : {}),
        overwrite: config.overwrite_output_dir,
      });
      if (removed.length > 0)
        console.error(`${name}: overwrite_output_dir: removed the earlier run's ${removed.join(", ")} from ${config.output_dir}`);
      const runners = (await import("../recipes/train-run.js")) as unknown as Record<
        string,
        (config: unknown, options: { resume?: string; db: string }) => Promise<void>
      >;
      await (runners[entry.run] as (config: unknown, options: { resume?: string; db: string }) => Promise<void>)(parsed.data, {
        ...(opts.resume ? { resume: opts.resume } : {}),
        db: storeLocation(command),
      });
    });
  }
}

/** The options that name a model a run reads (output_dir must not be one of them). */
const MODEL_FIELDS = ["model_name_or_path", "ref_model_name_or_path", "reward_model_path", "judge"];

/** A config file key that no option has is an error naming it and the closest option (a typo like `learnin_rate`). */
export function checkKnownKeys(path: string, values: Record<string, unknown>, known: string[]): void {
  const unknown = Object.keys(values).filter((key) => !known.includes(key));
  if (unknown.length === 0) return;
  const described = unknown.map((key) => {
    const closest = closestKey(key, known);
    return `"${key}"${closest ? ` (did you mean "${closest}"?)` : ""}`;
  });
  throw new Error(`${path}: unknown option${unknown.length > 1 ? "s" : ""} ${described.join(", ")}; see --help for the options`);
}
