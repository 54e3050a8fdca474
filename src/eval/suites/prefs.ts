/**
 * `prefs=FILE`: preference pairs in TRL's formats (explicit `{prompt, chosen,
 * rejected}` or implicit-prompt transcripts as HH-RLHF ships them,
 * `.jsonl`/`.jsonl.gz` read by the trainers' own reader, or Parquet), scored three ways:
 * - a reward model (a model with a score head): right when r(chosen) > r(rejected);
 * - with `--ref ID`: DPO's implicit reward, β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))] > 0;
 * - any other model: its log-probs, summed and (local models) per-token mean.
 * Rows are tokenized as the reward and DPO trainers tokenize them (completion
 * + EOS); a prompt too long for the context keeps its last tokens, counted.
 */

import type { Message } from "../../data/dataset.js";
import { preferenceRowSchema } from "../../data/dataset.js";
import { preferenceExample } from "../../data/examples.js";
import type { CausalLM } from "../../models/model.js";
import type { Provider } from "../../providers/provider.js";
import { outcomeRate } from "../rates.js";
import { fitContext, localModel, requireLogprobs, rewardOf, scoreIds } from "../scoring.js";
import { bootstrapMean } from "../stats.js";
import { counted, type EvalItem, type ItemResult, type ResultRow, type Suite, type SuiteContext } from "../suite.js";
import { fileHash } from "./files.js";
import { readRecords } from "./table.js";

type PrefPayload = { prompt: string | Message[]; chosen: string | Message[]; rejected: string | Message[] };
export type PrefsMode = "reward" | "logprob" | "dpo";

/** Which of the three ways a context scores pairs. */
export function prefsMode(context: SuiteContext): PrefsMode {
  if (context.ref) return "dpo";
  return localModel(context.model)?.hasScoreHead ? "reward" : "logprob";
}

type PairScores = { chosen: number; rejected: number; chosenTokens: number | null; rejectedTokens: number | null; truncated: number };

/** Summed log-probs of chosen and rejected (exact and fitted on a local model; `logprobs` otherwise, strings only). */
async function pairLogprobs(provider: Provider, p: PrefPayload, where: string): Promise<PairScores | { skipped: string }> {
  const model = localModel(provider);
  if (!model) {
    if (typeof p.prompt !== "string" || typeof p.chosen !== "string" || typeof p.rejected !== "string")
      throw new Error(
        `${where}: conversational rows need a local model (their chat template renders them); ${provider.id} scores strings only`,
      );
    const [chosen, rejected] = (await provider.logprobs(p.prompt, [p.chosen, p.rejected])) as [number, number];
    return { chosen, rejected, chosenTokens: null, rejectedTokens: null, truncated: 0 };
  }
  const ex = fittedExample(model, p, where);
  if ("skipped" in ex) return ex;
  const [c, r] = (await scoreIds(model, ex.prompt, [ex.chosen, ex.rejected])) as [Float32Array, Float32Array];
  const sum = (xs: Float32Array) => xs.reduce((a, b) => a + b, 0);
  return { chosen: sum(c), rejected: sum(r), chosenTokens: c.length, rejectedTokens: r.length, truncated: ex.truncated };
}

function fittedExample(model: CausalLM, p: PrefPayload, where: string) {
  const tokenizer = model.tokenizer as NonNullable<CausalLM["tokenizer"]>;
  const ex = preferenceExample(p as never, tokenizer, { maxLength: Number.MAX_SAFE_INTEGER, where });
  const fitted = fitContext(ex.prompt, [ex.chosen, ex.rejected], model.dims.maxPositions, "left", tokenizer.bosTokenId);
  if ("skipped" in fitted) return fitted;
  return { prompt: fitted.prompt, chosen: ex.chosen, rejected: ex.rejected, truncated: fitted.truncated };
}

export function prefsSuite(path: string, options: { name?: string; beta?: number } = {}): Suite<PrefPayload> {
  const beta = options.beta ?? 0.1;
  return {
    name: options.name ?? "prefs",
    spec: `prefs=${path}`,
    fingerprint: fileHash(path),
    settings: { beta },
    async load(): Promise<EvalItem<PrefPayload>[]> {
      return (await readRecords(path, preferenceRowSchema)).map(({ row, key }) => ({
        key,
        payload: { prompt: row.prompt, chosen: row.chosen, rejected: row.rejected },
      }));
    },
    async check(context) {
      const mode = prefsMode(context);
      if (mode === "reward") return;
      await requireLogprobs(context.model, "prefs");
      if (context.ref) await requireLogprobs(context.ref, "prefs (--ref)");
    },
    async run(item, context): Promise<ItemResult> {
      const where = `${path} (${item.key})`;
      const mode = prefsMode(context);
      if (mode === "reward") {
        const model = localModel(context.model) as CausalLM;
        const ex = fittedExample(model, item.payload, where);
        if ("skipped" in ex) return { skipped: ex.skipped, outcomes: {} };
        const [chosen, rejected] = (await rewardOf(model, [
          [...ex.prompt, ...ex.chosen],
          [...ex.prompt, ...ex.rejected],
        ])) as [number, number];
        return {
          outcomes: { correct: chosen > rejected ? 1 : 0 },
          details: { mode, chosen, rejected, margin: chosen - rejected, ...(ex.truncated ? { truncatedPromptTokens: ex.truncated } : {}) },
        };
      }
      const policy = await pairLogprobs(context.model, item.payload, where);
      if ("skipped" in policy) return { skipped: policy.skipped, outcomes: {} };
      const truncated = policy.truncated ? { truncatedPromptTokens: policy.truncated } : {};
      if (mode === "dpo") {
        const ref = await pairLogprobs(context.ref as Provider, item.payload, where);
        if ("skipped" in ref) return { skipped: ref.skipped, outcomes: {} };
        const reward = beta * (policy.chosen - ref.chosen - (policy.rejected - ref.rejected));
        return { outcomes: { correct: reward > 0 ? 1 : 0 }, details: { mode, policy, ref, implicitRewardMargin: reward, ...truncated } };
      }
      const outcomes: Record<string, 0 | 1> = { correct: policy.chosen > policy.rejected ? 1 : 0 };
      if (policy.chosenTokens && policy.rejectedTokens)
        outcomes.correct_mean = policy.chosen / policy.chosenTokens > policy.rejected / policy.rejectedTokens ? 1 : 0;
      return { outcomes, details: { mode, ...policy, ...truncated } };
    },
    summarise(results: ResultRow[], context) {
      const { scored, base } = counted(results);
      const accuracy = outcomeRate(scored, "correct");
      const mean = outcomeRate(scored, "correct_mean");
      const mode = prefsMode(context);
      const margins = scored.map((r) => Number(r.details?.margin ?? r.details?.implicitRewardMargin ?? Number.NaN)).filter(Number.isFinite);
      return {
        ...base,
        mode,
        accuracy: accuracy.rate,
        ci95: accuracy.ci95,
        correct: accuracy.k,
        ...(mean.n > 0 ? { accuracyPerTokenMean: mean.rate, ci95PerTokenMean: mean.ci95 } : {}),
        ...(margins.length > 0 ? { meanMargin: bootstrapMean(margins, { seed: context.seed }) } : {}),
        truncated: scored.filter((r) => r.details?.truncatedPromptTokens !== undefined).length,
      };
    },
  };
}
