/**
 * Evaluating a model on the world: its responses to held-out prompts, judged
 * by the gold judge, and optionally scored by a reward model.
 */
import { cutAtTurn, responsePrompt, TURN_STOPS } from "../cai/format.js";
import type { CausalLM } from "../models/model.js";
import { scoreSequences } from "../models/score.js";
import type { Provider } from "../providers/provider.js";
import { judge } from "../world/judge.js";
import type { WorldPrompt } from "../world/prompts.js";
import type { Judged } from "./metrics.js";

export type EvalOptions = {
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  batch?: number;
  onBatch?: (done: number, total: number) => void;
};

/** Each prompt's response (greedy by default, so a stage's evaluation is reproducible), judged. */
export async function evaluateProvider(provider: Provider, prompts: WorldPrompt[], options: EvalOptions = {}): Promise<Judged[]> {
  const batch = options.batch ?? 32;
  const out: Judged[] = [];
  for (let i = 0; i < prompts.length; i += batch) {
    const chunk = prompts.slice(i, i + batch);
    const completions = await provider.generate(
      chunk.map((p) => responsePrompt(p.text)),
      { maxTokens: options.maxTokens ?? 96, temperature: options.temperature ?? 0, stop: TURN_STOPS, seed: options.seed ?? 0 },
    );
    chunk.forEach((p, j) => {
      const response = cutAtTurn(completions[j]?.text ?? "");
      out.push({ id: p.id, category: p.category, response, judgement: judge(p, response) });
    });
    options.onBatch?.(Math.min(prompts.length, i + batch), prompts.length);
  }
  return out;
}

/** A reward model's score of each (prompt, response), tokenized as the reward trainer saw them (response + EOS). */
export async function rewardScores(rewardModel: CausalLM, pairs: { prompt: string; response: string }[], batch = 32): Promise<number[]> {
  const tokenizer = rewardModel.tokenizer;
  if (!tokenizer) throw new Error("the reward model has no tokenizer");
  const eos = tokenizer.eosTokenIds[0];
  const rows = pairs.map(({ prompt, response }) => [
    ...tokenizer.encode(responsePrompt(prompt)),
    ...tokenizer.encode(` ${response}`, { addSpecialTokens: false }),
    ...(eos === undefined ? [] : [eos]),
  ]);
  const scores: number[] = [];
  for (let i = 0; i < rows.length; i += batch) scores.push(...(await scoreSequences(rewardModel, rows.slice(i, i + batch))));
  return scores;
}
