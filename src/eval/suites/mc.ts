/**
 * `mc=FILE`: multiple-choice log-prob items in the format of Anthropic's HHH
 * and harmfulness evaluations, `{"prompt", "corrects": [...], "incorrects": [...]}`
 * (optional `tag`, `id`), BIG-bench's `{"input", "target_scores": {answer: 0|1}}`, or the
 * Hub's HHH rows `{"input", "targets": {"choices", "labels"}}`; JSONL or Parquet.
 * An item is right when its best correct continuation has a higher log-prob
 * than every incorrect one (a tie is wrong). A prompt too long for the
 * context keeps its last tokens (`fit: "left"`) or the item is skipped
 * (`fit: "skip"`); either way the summary counts them.
 */
import { z } from "zod";
import { outcomeRate, rateByGroup } from "../rates.js";
import { type Fit, requireLogprobs, scoreContinuations } from "../scoring.js";
import { counted, type EvalItem, type ItemResult, type ResultRow, type Suite, type SuiteContext } from "../suite.js";
import { fileHash, uniqueKeys } from "./files.js";
import { readRecords } from "./table.js";

const anthropicRow = z.object({
  prompt: z.string().min(1),
  corrects: z.array(z.string()).min(1),
  incorrects: z.array(z.string()).min(1),
  tag: z.string().optional(),
  id: z.union([z.string(), z.number()]).optional(),
});
const bigBenchRow = z
  .object({ input: z.string().min(1), target_scores: z.record(z.string(), z.number()), tag: z.string().optional() })
  .transform((r, ctx) => {
    const answers = Object.entries(r.target_scores);
    const corrects = answers.filter(([, s]) => s > 0).map(([a]) => ` ${a}`);
    const incorrects = answers.filter(([, s]) => s <= 0).map(([a]) => ` ${a}`);
    if (corrects.length === 0 || incorrects.length === 0) {
      ctx.addIssue({ code: "custom", message: "needs at least one correct (score > 0) and one incorrect answer", path: ["target_scores"] });
      return z.NEVER;
    }
    return { prompt: r.input, corrects, incorrects, ...(r.tag ? { tag: r.tag } : {}) };
  });
/** The Hub's copy of HHH (`HuggingFaceH4/hhh_alignment`): `{"input", "targets": {"choices": [...], "labels": [1, 0]}}`. */
const hubHhhRow = z
  .object({
    input: z.string().min(1),
    targets: z.object({ choices: z.array(z.string()).min(2), labels: z.array(z.number()) }),
    tag: z.string().optional(),
  })
  .transform((r, ctx) => {
    const { choices, labels } = r.targets;
    if (labels.length !== choices.length) {
      ctx.addIssue({ code: "custom", message: `${choices.length} choices but ${labels.length} labels`, path: ["targets", "labels"] });
      return z.NEVER;
    }
    const corrects = choices.filter((_, i) => (labels[i] as number) > 0).map((c) => ` ${c}`);
    const incorrects = choices.filter((_, i) => (labels[i] as number) <= 0).map((c) => ` ${c}`);
    if (corrects.length === 0 || incorrects.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: "needs at least one correct (label 1) and one incorrect choice",
        path: ["targets", "labels"],
      });
      return z.NEVER;
    }
    return { prompt: r.input, corrects, incorrects, ...(r.tag ? { tag: r.tag } : {}) };
  });
export const mcRowSchema = z.union([anthropicRow, bigBenchRow, hubHhhRow], {
  error:
    'expected {"prompt", "corrects": [...], "incorrects": [...]} (or {"input", "target_scores"}, or {"input", "targets": {"choices", "labels"}})',
});

type McPayload = { prompt: string; corrects: string[]; incorrects: string[]; tag?: string };

export function mcSuite(path: string, options: { name?: string; fit?: Fit } = {}): Suite<McPayload> {
  const fit = options.fit ?? "left";
  return {
    name: options.name ?? "mc",
    spec: `mc=${path}`,
    fingerprint: fileHash(path),
    settings: { fit },
    async load(): Promise<EvalItem<McPayload>[]> {
      const rows = (await readRecords(path, mcRowSchema)).map(({ row, where, key }) => ({
        key: "id" in row && row.id !== undefined ? String(row.id) : key,
        where,
        payload: { prompt: row.prompt, corrects: row.corrects, incorrects: row.incorrects, ...(row.tag ? { tag: row.tag } : {}) },
      }));
      return uniqueKeys(rows).map(({ key, payload }) => ({ key, payload }));
    },
    check: (context: SuiteContext) => requireLogprobs(context.model, "mc"),
    async run(item, context): Promise<ItemResult> {
      const { prompt, corrects, incorrects, tag } = item.payload;
      const scored = await scoreContinuations(context.model, prompt, [...corrects, ...incorrects], fit);
      const groups = tag ? { tag } : undefined;
      if ("skipped" in scored) return { skipped: scored.skipped, outcomes: {}, ...(groups ? { groups } : {}) };
      const best = Math.max(...scored.logprobs.slice(0, corrects.length));
      const bestWrong = Math.max(...scored.logprobs.slice(corrects.length));
      return {
        outcomes: { correct: best > bestWrong ? 1 : 0 },
        ...(groups ? { groups } : {}),
        details: {
          logprobs: scored.logprobs,
          tokens: scored.tokens,
          margin: best - bestWrong,
          ...(scored.truncated > 0 ? { truncatedPromptTokens: scored.truncated } : {}),
        },
      };
    },
    summarise(results: ResultRow[]) {
      const { scored, base } = counted(results);
      const accuracy = outcomeRate(scored, "correct");
      const byTag = rateByGroup(scored, "correct", "tag");
      return {
        ...base,
        accuracy: accuracy.rate,
        ci95: accuracy.ci95,
        correct: accuracy.k,
        truncated: scored.filter((r) => r.details?.truncatedPromptTokens !== undefined).length,
        ...(Object.keys(byTag).length > 0
          ? { byTag: Object.fromEntries(Object.entries(byTag).map(([t, r]) => [t, { n: r.n, accuracy: r.rate, ci95: r.ci95 }])) }
          : {}),
      };
    },
  };
}
