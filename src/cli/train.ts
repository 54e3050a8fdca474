/**
 * `precept train <algorithm> --config file.yaml [--option value ...] [--resume DIR|latest]`.
 * Each trainer's options come from its zod schema (see schema-options.ts),
 * so `precept train sft --help` lists them all with their defaults.
 */
import type { Command } from "commander";
import type { z } from "zod";
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
    const closest = closestName(key, known);
    return `"${key}"${closest ? ` (did you mean "${closest}"?)` : ""}`;
  });
  throw new Error(`${path}: unknown option${unknown.length > 1 ? "s" : ""} ${described.join(", ")}; see --help for the options`);
}

/** The known name within a small edit distance of `name`, if any. */
export function closestName(name: string, known: string[]): string | null {
  let best: { name: string; distance: number } | null = null;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? best.name : null;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}
