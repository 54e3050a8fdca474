/**
 * `precept guard train`: a classifier per principle from labelled examples
 * (`{"principle", "prompt", "response", "violates"}` JSONL: generated, or people's confirmed flags).
 * Each principle gets a reward model (TRL's RewardTrainer machinery: a scalar head, the
 * Bradley–Terry loss) trained on pairs of one prompt's compliant and violating replies, so that
 * compliant replies score higher. A share of the prompts is held out (by a hash of the prompt, so
 * look-alike replies to one prompt stay on one side); the threshold is set on the held-out compliant
 * replies for the target false-positive rate, and the held-out rates at that threshold are reported.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { readJsonlLines } from "../data/dataset.js";
import { loadModel } from "../models/io.js";
import { rewardConfigSchema } from "../train/configs.js";
import { type PairExample, trainRewardModel } from "../train/reward.js";
import { CLASSIFIER_FILE, type ClassifierManifest, exchangeIds, RewardScorer } from "./trained.js";

export const labelledExampleSchema = z.object({
  principle: z.string().min(1),
  prompt: z.string().min(1),
  response: z.string(),
  violates: z.boolean(),
});
export type LabelledExample = z.output<typeof labelledExampleSchema>;

export type TrainOptions = {
  baseModel: string;
  examples: LabelledExample[];
  outDir: string;
  /** Largest share of held-out compliant replies flagged (default 0.05). */
  targetFalsePositiveRate?: number;
  /** Share of prompts held out (default 0.3). */
  heldOut?: number;
  epochs?: number;
  learningRate?: number;
  seed?: number;
  /** Pairs per violating reply: half with the same prompt's compliant replies, half with others' (default 4). */
  pairsPerPrompt?: number;
  log?: (line: string) => void;
};

const heldOutPrompt = (prompt: string, share: number) => createHash("sha256").update(prompt).digest().readUInt32BE(0) / 2 ** 32 < share;

export async function readLabelledExamples(path: string): Promise<LabelledExample[]> {
  return (await readJsonlLines(path, labelledExampleSchema)).map(({ row }) => row);
}

/**
 * The threshold: at most `rate` of the held-out compliant scores at or above it, and, of the
 * thresholds that catch as many held-out violating replies as that lowest one does, the one midway
 * between the two sides (the widest margin on both).
 */
export function thresholdFor(compliant: readonly number[], rate: number, violating: readonly number[] = []): number {
  const sorted = [...compliant].sort((a, b) => b - a);
  const allowed = Math.floor(rate * sorted.length);
  const edge = sorted[allowed];
  if (edge === undefined) return Number.NEGATIVE_INFINITY;
  // Flag scores ≥ t: t just above the (allowed+1)-th highest compliant score.
  const lowest = edge + Math.max(1e-6, Math.abs(edge) * 1e-6);
  const caught = violating.filter((s) => s >= lowest);
  if (caught.length === 0) return lowest;
  return (lowest + Math.min(...caught)) / 2;
}

export async function trainGuardClassifier(options: TrainOptions): Promise<ClassifierManifest> {
  const log = options.log ?? (() => {});
  const rate = options.targetFalsePositiveRate ?? 0.05;
  const share = options.heldOut ?? 0.3;
  const byPrinciple = new Map<string, LabelledExample[]>();
  for (const e of options.examples) byPrinciple.set(e.principle, [...(byPrinciple.get(e.principle) ?? []), e]);
  const manifest: ClassifierManifest = { base_model: options.baseModel, target_false_positive_rate: rate, principles: {} };
  mkdirSync(options.outDir, { recursive: true });
  for (const [principle, examples] of byPrinciple) {
    const train = examples.filter((e) => !heldOutPrompt(e.prompt, share));
    const test = examples.filter((e) => heldOutPrompt(e.prompt, share));
    const model = await loadModel(options.baseModel);
    const ids = (e: LabelledExample) => exchangeIds(model, e.prompt, e.response);
    // Pairs within a prompt teach what breaks the principle; pairs with other prompts' compliant
    // replies (harmless look-alikes among them) make the score comparable across prompts, which a
    // single threshold needs.
    const pairs: PairExample[] = [];
    const good = train.filter((e) => !e.violates);
    const each = options.pairsPerPrompt ?? 4;
    let pick = options.seed ?? 0;
    for (const bad of train.filter((e) => e.violates)) {
      const same = good.filter((g) => g.prompt === bad.prompt).slice(0, Math.ceil(each / 2));
      const others: LabelledExample[] = [];
      for (let k = 0; k < good.length && others.length < each - same.length; k++) {
        pick = (pick * 1103515245 + 12345) >>> 0;
        const g = good[pick % good.length] as LabelledExample;
        if (g.prompt !== bad.prompt) others.push(g);
      }
      for (const g of [...same, ...others]) pairs.push({ chosen: ids(g), rejected: ids(bad) });
    }
    const heldCompliant = test.filter((e) => !e.violates);
    const heldViolating = test.filter((e) => e.violates);
    if (pairs.length === 0 || heldCompliant.length === 0 || heldViolating.length === 0) {
      model.dispose();
      throw new Error(
        `principle "${principle}": ${pairs.length} training pairs, ${heldCompliant.length} held-out compliant and ${heldViolating.length} violating replies; each needs at least one (give prompts with both kinds of reply)`,
      );
    }
    const dir = principle.replace(/[^a-z0-9_.-]/gi, "_");
    const config = rewardConfigSchema.parse({
      model_name_or_path: options.baseModel,
      train_file: "(guard train examples)",
      output_dir: join(options.outDir, dir),
      overwrite_output_dir: true,
      num_train_epochs: options.epochs ?? 3,
      learning_rate: options.learningRate ?? 3e-4,
      warmup_steps: 5,
      per_device_train_batch_size: 8,
      save_steps: 0,
      save_total_limit: 1,
      logging_steps: 1000,
      progress: false,
      seed: options.seed ?? 0,
    });
    const started = performance.now();
    await trainRewardModel({ config, model, train: pairs });
    const scorer = new RewardScorer(model);
    const violation = async (rows: LabelledExample[]) => (await scorer.rewards(rows.map(ids))).map((r) => -r);
    const compliantScores = await violation(heldCompliant);
    const violatingScores = await violation(heldViolating);
    scorer.dispose();
    const threshold = thresholdFor(compliantScores, rate, violatingScores);
    const held = {
      compliant: heldCompliant.length,
      violating: heldViolating.length,
      falsePositiveRate: compliantScores.filter((s) => s >= threshold).length / compliantScores.length,
      truePositiveRate: violatingScores.filter((s) => s >= threshold).length / violatingScores.length,
    };
    manifest.principles[principle] = { dir, threshold, held_out: held, train_pairs: pairs.length };
    log(
      `  ${principle}: ${pairs.length} pairs, ${((performance.now() - started) / 1000).toFixed(0)} s; held out ${held.compliant} compliant, ${held.violating} violating: threshold ${threshold.toFixed(3)}, false positives ${(held.falsePositiveRate * 100).toFixed(1)}%, caught ${(held.truePositiveRate * 100).toFixed(1)}%`,
    );
  }
  writeFileSync(join(options.outDir, CLASSIFIER_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
