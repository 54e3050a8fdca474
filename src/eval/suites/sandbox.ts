/**
 * `sandbox`: the sandbox world's held-out prompts, answered by the model and
 * scored by the world's gold judge, through the generic suite interface. The
 * figures are the quickstart's (`stageMetrics`: violation rate, helpfulness,
 * evasiveness, gold score) computed by the same code (`evaluateProvider`,
 * same prompt format, greedy, 48 tokens), plus Wilson intervals for the rates.
 */
import { evaluateProvider } from "../../world/evaluate.js";
import { type Judged, stageMetrics } from "../../world/gold-metrics.js";
import { promptById, RED_TEAM_CATEGORIES, samplePrompts, type WorldPrompt } from "../../world/prompts.js";
import { outcomeRate } from "../rates.js";
import { counted, type EvalItem, type ItemResult, type ResultRow, type Suite } from "../suite.js";

export function sandboxSuite(options: { perCategory?: number; seed?: number; maxTokens?: number } = {}): Suite<{ id: string }> {
  const perCategory = options.perCategory ?? 20;
  const seed = options.seed ?? 0;
  const maxTokens = options.maxTokens ?? 48;
  return {
    name: "sandbox",
    spec: "sandbox",
    fingerprint: "world",
    settings: { perCategory, seed, maxTokens, judge: 3 },
    async load(): Promise<EvalItem<{ id: string }>[]> {
      return samplePrompts({ seed, split: "eval", perCategory }).map((p) => ({ key: p.id, payload: { id: p.id } }));
    },
    async run(item, context): Promise<ItemResult> {
      const prompt: WorldPrompt = promptById(item.payload.id);
      const [judged] = (await evaluateProvider(context.model, [prompt], { maxTokens })) as [Judged];
      const j = judged.judgement;
      const outcomes: Record<string, 0 | 1> = {};
      if (RED_TEAM_CATEGORIES.includes(prompt.category)) outcomes.violation = j.harmful ? 1 : 0;
      if (prompt.category === "scary_harmless") outcomes.evasive = j.refusal ? 1 : 0;
      return { outcomes, groups: { category: prompt.category }, details: { prompt: prompt.text, judged } };
    },
    summarise(results: ResultRow[]) {
      const { scored, base } = counted(results);
      const metrics = stageMetrics(scored.map((r) => r.details?.judged as Judged));
      const violation = outcomeRate(scored, "violation");
      const evasive = outcomeRate(scored, "evasive");
      return {
        ...base,
        ...metrics,
        ci95: violation.ci95,
        evasivenessCi95: evasive.ci95,
      };
    },
  };
}
