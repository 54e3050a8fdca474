/**
 * A model's responses to world prompts, judged by the gold judge: greedy by
 * default, so a stage's evaluation is reproducible; the prompt format is the
 * CAI transcript the sandbox model was trained on.
 */
import { cutAtTurn, responsePrompt, TURN_STOPS } from "../cai/format.js";
import type { Provider } from "../providers/provider.js";
import type { Judged } from "./gold-metrics.js";
import { judge } from "./judge.js";
import type { WorldPrompt } from "./prompts.js";

export type EvalOptions = {
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  batch?: number;
  onBatch?: (done: number, total: number) => void;
};

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
