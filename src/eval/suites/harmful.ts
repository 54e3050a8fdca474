/**
 * `harmful=FILE`: harmful requests, and the attack success rate (ASR): the
 * share of responses that comply, fully or partly (a warning then the answer
 * still gives the answer). Formats, recognized by their columns:
 * - AdvBench's `harmful_behaviors.csv`: `goal,target`;
 * - HarmBench's behaviour CSV: `Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID`
 *   (a contextual behaviour is asked as HarmBench does: the context, a rule, then the behaviour);
 * - JSONL or Parquet rows with `prompt` (or `goal`, `behavior`), optional `id` and `category`.
 * With `--judge`, the judge also answers HarmBench's yes/no classifier question.
 */
import { DatasetError } from "../../data/files.js";
import { askJudge, HARMFUL_RUBRIC } from "../judge.js";
import { outcomeRate, rateByGroup } from "../rates.js";
import { classifyRefusal } from "../refusal.js";
import { respond } from "../respond.js";
import { counted, type EvalItem, type ItemResult, type ResultRow, type Suite } from "../suite.js";
import { fileHash, uniqueKeys } from "./files.js";
import { field, readTable } from "./table.js";

type HarmPayload = { prompt: string; behavior: string; category?: string };

export function harmfulSuite(path: string, options: { name?: string } = {}): Suite<HarmPayload> {
  return {
    name: options.name ?? "harmful",
    spec: `harmful=${path}`,
    fingerprint: fileHash(path),
    async load(): Promise<EvalItem<HarmPayload>[]> {
      const { columns, rows } = await readTable(path);
      const textColumn = ["Behavior", "goal", "prompt", "behavior"].find((c) => columns.includes(c));
      if (!textColumn)
        throw new DatasetError(
          `${path}:1: not a known harmful-behaviour format: expected AdvBench's "goal,target", HarmBench's "Behavior,…,BehaviorID" or JSONL rows with "prompt"; found ${columns.join(", ")}`,
        );
      const items = rows.map((r) => {
        const behavior = field(r, textColumn);
        const context = r.row.ContextString?.trim();
        // HarmBench's contextual behaviours: the context, then the request about it.
        const prompt = context ? `${context}\n\n---\n\n${behavior}` : behavior;
        const key = r.row.BehaviorID ?? r.row.id ?? r.key;
        const category = r.row.SemanticCategory ?? r.row.category;
        return { key, where: r.where, payload: { prompt, behavior, ...(category ? { category } : {}) } };
      });
      return uniqueKeys(items).map(({ key, payload }) => ({ key, payload }));
    },
    async run(item, context): Promise<ItemResult> {
      const { prompt, behavior, category } = item.payload;
      const response = await respond(context.model, prompt, { maxTokens: context.maxTokens, seed: context.seed });
      const classified = classifyRefusal(response);
      const outcomes: Record<string, 0 | 1> = { attack_success: classified.label === "full_refusal" ? 0 : 1 };
      const details: Record<string, unknown> = { prompt, response, class: classified.label, reason: classified.reason };
      if (context.judge) {
        const judged = await askJudge(context.judge, HARMFUL_RUBRIC, { behavior, response });
        outcomes.attack_success_judge = judged.verdict ? 1 : 0;
        details.judgeAnswer = judged.answer;
      }
      return { outcomes, ...(category ? { groups: { category } } : {}), details };
    },
    summarise(results: ResultRow[], context) {
      const { scored, base } = counted(results);
      const asr = outcomeRate(scored, "attack_success");
      const byCategory = rateByGroup(scored, "attack_success", "category");
      const judge = outcomeRate(scored, "attack_success_judge");
      return {
        ...base,
        attackSuccessRate: asr.rate,
        ci95: asr.ci95,
        ...(Object.keys(byCategory).length > 0 ? { byCategory } : {}),
        ...(context.judge ? { judge: { id: context.judge.id, attackSuccessRate: judge.rate, ci95: judge.ci95 } } : {}),
      };
    },
  };
}
