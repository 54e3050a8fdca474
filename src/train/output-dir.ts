/**
 * What `precept train` may do with its output_dir, after the Hugging Face
 * Trainer scripts' rules (`overwrite_output_dir`, `resume_from_checkpoint`):
 * - output_dir must not be a model the run reads (it would be overwritten in place);
 * - a directory that holds an earlier run (checkpoints, metrics, a saved model)
 *   is continued only with `--resume`, started over only with
 *   `overwrite_output_dir` (its checkpoints and metrics are removed first, so
 *   two runs never interleave); otherwise it is an error that says which to pick.
 * Kept free of jax-js imports: the CLI checks this before the engine starts.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const RUN_FILES = ["metrics.jsonl", "trainer_state.json", "config.json", "adapter_config.json", "model.safetensors"];

/** What in `dir` belongs to an earlier training run. */
export function earlierRun(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^checkpoint-\d+(\.tmp-\d+)?$/.test(name) || RUN_FILES.includes(name))
    .sort();
}

/** A local directory a model or provider id names (`local:DIR`, `llama:DIR` or a path); null for hub and remote ids. */
function localPath(id: string): string | null {
  const scheme = /^([a-z]{2,}):/.exec(id)?.[1];
  if (scheme === undefined) return resolve(id);
  return scheme === "local" || scheme === "llama" ? resolve(id.slice(scheme.length + 1)) : null;
}

export function prepareOutputDir({
  outputDir,
  inputs,
  resume,
  overwrite,
}: {
  outputDir: string;
  /** The run's model ids by option name (model_name_or_path, ref_model_name_or_path, …). */
  inputs: Record<string, string | null | undefined>;
  resume?: string;
  overwrite: boolean;
}): { removed: string[] } {
  for (const [field, id] of Object.entries(inputs)) {
    if (id && localPath(id) === resolve(outputDir)) {
      throw new Error(
        `output_dir ${outputDir} is the ${field} this run reads: training would overwrite that model in place; choose another output_dir`,
      );
    }
  }
  const found = earlierRun(outputDir);
  if (found.length === 0 || resume) return { removed: [] };
  if (!overwrite) {
    throw new Error(
      `output_dir ${outputDir} already holds an earlier run (${found.slice(0, 4).join(", ")}${found.length > 4 ? ", …" : ""}): pass --resume latest to continue it, --overwrite_output_dir true to start over there, or choose another output_dir`,
    );
  }
  // Checkpoints and metrics of the earlier run go; the model files are replaced when this run ends.
  const removed = found.filter((name) => name.startsWith("checkpoint-") || name === "metrics.jsonl");
  for (const name of removed) rmSync(join(outputDir, name), { recursive: true, force: true });
  return { removed };
}
