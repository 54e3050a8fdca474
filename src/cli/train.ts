/**
 * `precept train <algorithm> --config file.yaml [--option value ...] [--resume DIR|latest]`.
 * Each trainer's options come from its zod schema (see schema-options.ts),
 * so `precept train sft --help` lists them all with their defaults.
 */
import type { Command } from "commander";
import type { z } from "zod";
import { addSchemaOptions, mergeFlags, readConfigFile } from "./schema-options.js";

/** A trainer as the CLI sees it; `run` names the function in recipes/train-run.ts, loaded only when the command runs (after --threads is applied). */
export type TrainerEntry = { description: string; schema: z.ZodObject; run: string };

export function addTrainCommands(program: Command, trainers: Record<string, TrainerEntry>): void {
  const train = program
    .command("train")
    .description("train a model: sft, rm, dpo, kto, orpo, cpo, simpo, ppo, grpo or rloo (see `precept train <algorithm> --help`)");
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
      const raw = mergeFlags(command, entry.schema, fromFile);
      const parsed = entry.schema.safeParse(raw);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `field "${i.path.join(".") || "(root)"}": ${i.message}`).join("; ");
        throw new Error(`${opts.config ?? "options"}: ${issues}`);
      }
      const runners = (await import("../recipes/train-run.js")) as unknown as Record<
        string,
        (config: unknown, options: { resume?: string }) => Promise<void>
      >;
      await (runners[entry.run] as (config: unknown, options: { resume?: string }) => Promise<void>)(
        parsed.data,
        opts.resume ? { resume: opts.resume } : {},
      );
    });
  }
}
