/**
 * Multi-stage recipes (`cai run`, `quickstart`) skip a stage when its output
 * exists and its inputs are unchanged: each finished stage leaves a marker
 * with a fingerprint of its settings and of its inputs' contents (files are
 * hashed; model directories by their config, weights and tokenizer). A stage
 * killed midway has no marker and runs again; training stages then resume
 * from their last checkpoint when the fingerprint they started with is the same.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "../constitution/load.js";
import { listCheckpoints } from "../train/core.js";

const MODEL_FILES = ["config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "adapter_model.safetensors"];

/** A content hash of a file, or of a model directory's defining files. */
export function contentHash(path: string): string {
  const hash = createHash("sha256");
  if (!existsSync(path)) throw new Error(`${path}: no such file or directory (an input of this stage)`);
  if (statSync(path).isDirectory()) {
    for (const name of MODEL_FILES) if (existsSync(join(path, name))) hash.update(name).update(readFileSync(join(path, name)));
  } else hash.update(readFileSync(path));
  return hash.digest("hex");
}

export type Stage = {
  name: string;
  /** The directory the stage writes (its marker goes there). */
  output: string;
  /** Files and model directories it reads. */
  inputs: string[];
  /** Every setting that changes its result. */
  settings: unknown;
  /** Runs the stage; `resume` is "latest" when a checkpoint from an identical earlier attempt exists. */
  run: (resume: string | undefined) => Promise<void>;
};

export type StageOutcome = { name: string; status: "skipped" | "ran"; seconds: number };

const DONE = ".precept-stage.json";
const STARTED = ".precept-stage-started.json";

export function stageFingerprint(stage: Stage): string {
  return createHash("sha256")
    .update(canonicalJson({ settings: stage.settings ?? null, inputs: stage.inputs.map((p) => contentHash(p)) }))
    .digest("hex");
}

function readMarker(path: string): string | null {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { fingerprint: string }).fingerprint;
  } catch {
    return null;
  }
}

/** Runs the stages in order, skipping up-to-date ones; `force` runs the named stage and every stage after it. */
export async function runStages(stages: Stage[], options: { force?: string; log?: (line: string) => void } = {}): Promise<StageOutcome[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (options.force && !stages.some((s) => s.name === options.force))
    throw new Error(`--force ${options.force}: no such stage (stages: ${stages.map((s) => s.name).join(", ")})`);
  const outcomes: StageOutcome[] = [];
  let forcing = false;
  for (const stage of stages) {
    forcing ||= stage.name === options.force;
    const started = Date.now();
    const fingerprint = stageFingerprint(stage);
    const done = join(stage.output, DONE);
    if (!forcing && readMarker(done) === fingerprint) {
      log(`[${stage.name}] up to date (${stage.output}), skipped`);
      outcomes.push({ name: stage.name, status: "skipped", seconds: 0 });
      continue;
    }
    const resumable = readMarker(join(stage.output, STARTED)) === fingerprint && listCheckpoints(stage.output).length > 0;
    rmSync(done, { force: true });
    log(`[${stage.name}] ${resumable ? "resuming from the last checkpoint" : "running"} → ${stage.output}`);
    writeMarker(stage.output, STARTED, fingerprint);
    await stage.run(resumable ? "latest" : undefined);
    writeMarker(stage.output, DONE, fingerprint);
    const seconds = (Date.now() - started) / 1000;
    log(`[${stage.name}] done in ${seconds.toFixed(1)} s`);
    outcomes.push({ name: stage.name, status: "ran", seconds });
  }
  return outcomes;
}

function writeMarker(dir: string, name: string, fingerprint: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), `${JSON.stringify({ fingerprint, at: new Date().toISOString() })}\n`);
}
