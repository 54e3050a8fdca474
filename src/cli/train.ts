/**
 * `precept train <algorithm> --config file.yaml [--option value ...] [--resume DIR|latest]`.
 * Each trainer's options come from its zod schema (see schema-options.ts),
 * so `precept train sft --help` lists them all with their defaults.
 */
import type { Command } from "commander";
import type { z } from "zod";
import { addSchemaOptions, mergeFlags, readConfigFile } from "./schema-options.js";

export type TrainerEntry = {
  description: string;
  /** Loaded lazily: jax-js must not start before --threads is applied. */
  load: () => Promise<{ schema: z.ZodObject; run: (config: never, options: { resume?: string }) => Promise<unknown> }>;
};

export function addTrainCommands(program: Command, trainers: Record<string, TrainerEntry & { schema: z.ZodObject }>): void {
  const train = program
    .command("train")
    .description("train a model: sft, rm, dpo, ppo, grpo or rloo (see `precept train <algorithm> --help`)");
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
      const { schema, run } = await entry.load();
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `field "${i.path.join(".") || "(root)"}": ${i.message}`).join("; ");
        throw new Error(`${opts.config ?? "options"}: ${issues}`);
      }
      await run(parsed.data as never, opts.resume ? { resume: opts.resume } : {});
    });
  }
}
