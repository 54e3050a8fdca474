/**
 * A reward model's score of each (prompt, response), tokenized as the reward
 * trainer saw them: the CAI transcript of the prompt, the response, EOS.
 */
import { responsePrompt } from "../cai/format.js";
import type { CausalLM } from "../models/model.js";
import { scoreSequences } from "../models/score.js";

export async function rewardModelScores(
  rewardModel: CausalLM,
  pairs: { prompt: string; response: string }[],
  batch = 32,
): Promise<number[]> {
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
