/**
 * A trained Precept classifier at run time: one reward model (a scalar head on a small model) per
 * principle, written by `precept guard train`, scoring "Human: prompt / Assistant: reply" as the
 * model's chat template lays it out. The violation score is minus the reward (the head was trained to
 * prefer compliant replies), compared with the threshold chosen on held-out examples for a target
 * false-positive rate. Scoring runs one call at a time (the model lives in this process).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { jit } from "../engine/jax.js";
import { readFloats } from "../engine/ownership.js";
import { treeRef } from "../engine/tree.js";
import { loadModel } from "../models/io.js";
import { batchInput, type CausalLM, scoreHead } from "../models/model.js";
import { type PairBatch, pairBatch } from "../train/reward.js";

export const CLASSIFIER_FILE = "guard-classifier.json";

const heldOutSchema = z.object({
  compliant: z.number(),
  violating: z.number(),
  falsePositiveRate: z.number(),
  truePositiveRate: z.number(),
});
export const classifierManifestSchema = z.object({
  base_model: z.string(),
  target_false_positive_rate: z.number(),
  principles: z.record(z.string(), z.object({ dir: z.string(), threshold: z.number(), held_out: heldOutSchema, train_pairs: z.number() })),
});
export type ClassifierManifest = z.output<typeof classifierManifestSchema>;

/** The tokens a reward model scores: the exchange in the model's chat format (its template ends the reply). */
export function exchangeIds(model: CausalLM, prompt: string, reply: string): number[] {
  const tokenizer = model.tokenizer;
  if (!tokenizer) throw new Error("a guard classifier needs a model with a tokenizer");
  const text =
    tokenizer.chatTemplate === null
      ? `Human: ${prompt}\n\nAssistant: ${reply}`
      : tokenizer.applyChatTemplate(
          [
            { role: "user", content: prompt },
            { role: "assistant", content: reply },
          ],
          { addGenerationPrompt: false },
        );
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  // Keep the end (the reply) when the exchange is longer than the model's context.
  return ids.slice(Math.max(0, ids.length - model.dims.maxPositions));
}

/** Rewards of exchanges under one reward model, with one jitted forward kept for the model's life. */
export class RewardScorer {
  readonly #forward: (params: unknown, batch: PairBatch) => unknown;
  constructor(readonly model: CausalLM) {
    this.#forward = jit((params: Parameters<typeof scoreHead>[1], batch: PairBatch) => {
      batch.margin.dispose();
      batch.label.dispose();
      return scoreHead(model, params, batchInput(batch), batch.lastIndex);
    }) as never;
  }

  async rewards(rows: number[][], batchSize = 16): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < rows.length; i += batchSize) {
      const slice = rows.slice(i, i + batchSize);
      const batch = pairBatch(
        slice.map((r) => ({ chosen: r, rejected: r })),
        this.model.padId,
      );
      const scores = await readFloats(this.#forward(treeRef(this.model.params), batch) as never);
      out.push(...scores.slice(0, slice.length));
    }
    return out;
  }

  dispose(): void {
    (this.#forward as unknown as { dispose(): void }).dispose();
    this.model.dispose();
  }
}

export class TrainedClassifier {
  #queue: Promise<unknown> = Promise.resolve();
  private constructor(
    readonly dir: string,
    readonly manifest: ClassifierManifest,
    readonly scorers: Map<string, RewardScorer>,
  ) {}

  static async load(dir: string): Promise<TrainedClassifier> {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(join(dir, CLASSIFIER_FILE), "utf8"));
    } catch (err) {
      throw new Error(
        `${join(dir, CLASSIFIER_FILE)}: cannot read the guard classifier (${(err as Error).message}); train one with precept guard train`,
      );
    }
    const parsed = classifierManifestSchema.safeParse(raw);
    if (!parsed.success)
      throw new Error(
        `${join(dir, CLASSIFIER_FILE)}: field "${parsed.error.issues[0]?.path.join(".")}": ${parsed.error.issues[0]?.message}`,
      );
    const scorers = new Map<string, RewardScorer>();
    for (const [id, p] of Object.entries(parsed.data.principles)) scorers.set(id, new RewardScorer(await loadModel(join(dir, p.dir))));
    return new TrainedClassifier(dir, parsed.data, scorers);
  }

  get id(): string {
    return `trained:${this.dir}`;
  }

  covers(principle: string): boolean {
    return this.scorers.has(principle);
  }

  threshold(principle: string): number {
    return this.manifest.principles[principle]?.threshold ?? Number.POSITIVE_INFINITY;
  }

  /** The violation score (minus the reward) of a reply for one principle. */
  score(principle: string, prompt: string, reply: string): Promise<number> {
    const scorer = this.scorers.get(principle);
    if (!scorer) throw new Error(`the guard classifier ${this.dir} has no head for principle "${principle}"`);
    const job = this.#queue.then(async () => -((await scorer.rewards([exchangeIds(scorer.model, prompt, reply)]))[0] as number));
    this.#queue = job.catch(() => {});
    return job;
  }

  close(): void {
    for (const s of this.scorers.values()) s.dispose();
  }
}
