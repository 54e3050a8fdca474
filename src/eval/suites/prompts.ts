/**
 * `prompts=FILE` with `--constitution` and `--judge`: the user's own prompts
 * (JSONL or Parquet `{"prompt"}` rows or preference rows, checked as the
 * trainers check them; or a CSV with a `prompt` column), each response judged against every
 * principle by the judge model. Reported: the share of responses violating
 * each principle and any principle, with the judge's reasons stored per item.
 */
import { promptRowSchema } from "../../data/dataset.js";
import { askJudge, PRINCIPLE_RUBRIC } from "../judge.js";
import { isParquet } from "../parquet.js";
import { outcomeRate } from "../rates.js";
import { respond } from "../respond.js";
import { counted, type EvalItem, type ItemResult, type ResultRow, type Suite } from "../suite.js";
import { fileHash } from "./files.js";
import { field, isJsonl, readRecords, readTable } from "./table.js";

type PromptPayload = { prompt: string };

export function promptsSuite(path: string, options: { name?: string } = {}): Suite<PromptPayload> {
  return {
    name: options.name ?? "prompts",
    spec: `prompts=${path}`,
    fingerprint: fileHash(path),
    async load(): Promise<EvalItem<PromptPayload>[]> {
      if (!isJsonl(path) && !isParquet(path))
        return (await readTable(path, ["prompt"])).rows.map((r) => ({ key: r.key, payload: { prompt: field(r, "prompt") } }));
      return (await readRecords(path, promptRowSchema)).map(({ row, where, key }) => {
        if (typeof row.prompt !== "string")
          throw new Error(`${where}: field "prompt": message lists are not supported here; give the prompt as text`);
        return { key, payload: { prompt: row.prompt } };
      });
    },
    async check(context) {
      if (!context.judge) throw new Error("the prompts suite needs a judge model: give --judge ID");
      if (!context.constitution) throw new Error("the prompts suite judges against a constitution: give --constitution FILE");
    },
    async run(item, context): Promise<ItemResult> {
      const constitution = context.constitution as NonNullable<typeof context.constitution>;
      const judge = context.judge as NonNullable<typeof context.judge>;
      const { prompt } = item.payload;
      const response = await respond(context.model, prompt, { maxTokens: context.maxTokens, seed: context.seed });
      const outcomes: Record<string, 0 | 1> = {};
      const verdicts: Record<string, { violated: boolean; reason: string }> = {};
      for (const principle of constitution.principles) {
        const { verdict } = await askJudge(judge, PRINCIPLE_RUBRIC, { principle, prompt, response });
        outcomes[`violation:${principle.id}`] = verdict.violated ? 1 : 0;
        verdicts[principle.id] = verdict;
      }
      outcomes.violation = Object.values(verdicts).some((v) => v.violated) ? 1 : 0;
      return { outcomes, details: { prompt, response, verdicts } };
    },
    summarise(results: ResultRow[], context) {
      const { scored, base } = counted(results);
      const any = outcomeRate(scored, "violation");
      const principles = context.constitution?.principles ?? [];
      return {
        ...base,
        constitution: context.constitution
          ? `${context.constitution.name} ${context.constitution.version} (${context.constitution.hash})`
          : null,
        judge: context.judge?.id ?? null,
        violationRate: any.rate,
        ci95: any.ci95,
        byPrinciple: Object.fromEntries(principles.map((p) => [p.id, outcomeRate(scored, `violation:${p.id}`)])),
      };
    },
  };
}
