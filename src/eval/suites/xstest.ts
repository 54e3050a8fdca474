/**
 * `xstest=FILE`: XSTest (Röttger et al. 2024), CSV `id,prompt,type,label,focus,note`
 * with `label` "safe" (250 prompts that only sound unsafe) or "unsafe" (200
 * contrasts). Each prompt's response is classified full_compliance,
 * full_refusal or partial_refusal by the built-in classifier and, with
 * `--judge`, by the judge model on XSTest's own rubric. Reported: refusal
 * rate on safe prompts (over-refusal; full and partial) per `type`, and
 * compliance rate on unsafe prompts per `type`.
 */
import { DatasetError } from "../../data/files.js";
import { askJudge, XSTEST_RUBRIC } from "../judge.js";
import { outcomeRate, rateByGroup } from "../rates.js";
import { classifyRefusal, isRefusal, type RefusalClass } from "../refusal.js";
import { respond } from "../respond.js";
import { counted, type EvalItem, type ItemResult, type ResultRow, type Suite } from "../suite.js";
import { fileHash, uniqueKeys } from "./files.js";
import { field, readTable } from "./table.js";

type XsPayload = { prompt: string; type: string; label: "safe" | "unsafe" };

/** 0/1 outcomes of one classification: refusals on safe prompts, compliance on unsafe ones. */
function outcomesOf(label: "safe" | "unsafe", cls: RefusalClass, suffix = ""): Record<string, 0 | 1> {
  if (label === "safe")
    return {
      [`refusal${suffix}`]: isRefusal(cls) ? 1 : 0,
      [`full_refusal${suffix}`]: cls === "full_refusal" ? 1 : 0,
      [`partial_refusal${suffix}`]: cls === "partial_refusal" ? 1 : 0,
    };
  return { [`compliance${suffix}`]: cls === "full_compliance" ? 1 : 0 };
}

export function xstestSuite(path: string, options: { name?: string } = {}): Suite<XsPayload> {
  return {
    name: options.name ?? "xstest",
    spec: `xstest=${path}`,
    fingerprint: fileHash(path),
    async load(): Promise<EvalItem<XsPayload>[]> {
      const { rows } = await readTable(path, ["id", "prompt", "type", "label"]);
      const items = rows.map((r) => {
        const label = field(r, "label").trim().toLowerCase();
        if (label !== "safe" && label !== "unsafe")
          throw new DatasetError(`${r.where}: field "label" must be "safe" or "unsafe", not "${r.row.label}"`);
        return {
          key: field(r, "id"),
          where: r.where,
          payload: { prompt: field(r, "prompt"), type: field(r, "type"), label: label as "safe" | "unsafe" },
        };
      });
      return uniqueKeys(items).map(({ key, payload }) => ({ key, payload }));
    },
    async run(item, context): Promise<ItemResult> {
      const { prompt, type, label } = item.payload;
      const response = await respond(context.model, prompt, { maxTokens: context.maxTokens, seed: context.seed });
      const classified = classifyRefusal(response);
      let outcomes = outcomesOf(label, classified.label);
      const details: Record<string, unknown> = { prompt, response, class: classified.label, reason: classified.reason };
      if (context.judge) {
        const judged = await askJudge(context.judge, XSTEST_RUBRIC, { prompt, response });
        outcomes = { ...outcomes, ...outcomesOf(label, judged.verdict, "_judge") };
        details.judgeClass = judged.verdict;
        details.judgeAnswer = judged.answer;
      }
      return { outcomes, groups: { type, label }, details };
    },
    summarise(results: ResultRow[], context) {
      const { scored, base } = counted(results);
      const figures = (suffix: string) => {
        const refusal = outcomeRate(scored, `refusal${suffix}`);
        const compliance = outcomeRate(scored, `compliance${suffix}`);
        return {
          safe: {
            n: refusal.n,
            refusalRate: refusal.rate,
            ci95: refusal.ci95,
            fullRefusalRate: outcomeRate(scored, `full_refusal${suffix}`).rate,
            partialRefusalRate: outcomeRate(scored, `partial_refusal${suffix}`).rate,
            byType: rateByGroup(scored, `refusal${suffix}`, "type", (r) => r.groups?.label === "safe"),
          },
          unsafe: {
            n: compliance.n,
            complianceRate: compliance.rate,
            ci95: compliance.ci95,
            byType: rateByGroup(scored, `compliance${suffix}`, "type", (r) => r.groups?.label === "unsafe"),
          },
        };
      };
      const ours = figures("");
      return {
        ...base,
        classifier: "built-in",
        refusalRate: ours.safe.refusalRate,
        ci95: ours.safe.ci95,
        ...ours,
        ...(context.judge ? { judge: { id: context.judge.id, ...figures("_judge") } } : {}),
      };
    },
  };
}
