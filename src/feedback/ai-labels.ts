/**
 * AI feedback versus people: how often the stored `ai_label` records for a
 * pair of responses prefer the same response as the human consensus, per
 * constitution principle. Two record shapes are read:
 * - the AI-feedback pipeline's (`precept cai label`): key
 *   `<item>/<i>-<j>/<n>`, data `{p}` = P(response i is better), the responses
 *   being the `generation` records `<item>/s<i>` and `<item>/s<j>`;
 * - TRL rows `{prompt, chosen, rejected, label?}` (e.g. imported with
 *   `precept store import`): P(chosen is better) = `label`, or 1.
 * A label is matched to a campaign item through a scope (the prompt record's
 * id, or the prompt text) and the unordered pair of response texts.
 */
import { z } from "zod";
import type { StoredRecord } from "../store/store.js";
import { plainText, promptScope, recordScope, textOrMessagesSchema } from "./campaign.js";

export type AiJudgement = {
  /** Where to look for the item, most specific first. */
  scopes: string[];
  a: string;
  b: string;
  /** Probability that `a` is the better response. */
  pA: number;
  principle: string;
};

const pipelineKey = /^(.*)\/(\d+)-(\d+)\/\d+$/;
const pipelineData = z.object({ p: z.number().min(0).max(1) });
const trlData = z.object({
  prompt: textOrMessagesSchema,
  chosen: textOrMessagesSchema,
  rejected: textOrMessagesSchema,
  label: z.number().min(0).max(1).optional(),
});
const generationData = z.object({ completion: textOrMessagesSchema });

/** Every `ai_label` record of `records` whose pair can be read; the rest are left out. */
export function aiJudgements(records: readonly StoredRecord[]): AiJudgement[] {
  const generations = new Map<string, StoredRecord>();
  for (const r of records) if (r.kind === "generation") generations.set(`${r.runId}\u0000${r.key}`, r);
  const out: AiJudgement[] = [];
  for (const r of records) {
    if (r.kind !== "ai_label") continue;
    const principle = r.principleId ?? "(none)";
    const trl = trlData.safeParse(r.data);
    if (trl.success) {
      const { prompt, chosen, rejected, label } = trl.data;
      const scopes = [...(r.parentId !== null ? [recordScope(r.parentId)] : []), promptScope(prompt)];
      out.push({ scopes, a: plainText(chosen), b: plainText(rejected), pA: label ?? 1, principle });
      continue;
    }
    const match = pipelineKey.exec(r.key);
    const data = pipelineData.safeParse(r.data);
    if (!match || !data.success) continue;
    const [, item, i, j] = match;
    const gi = generations.get(`${r.runId}\u0000${item}/s${i}`);
    const gj = generations.get(`${r.runId}\u0000${item}/s${j}`);
    const ti = generationData.safeParse(gi?.data);
    const tj = generationData.safeParse(gj?.data);
    if (!gi || !ti.success || !tj.success) continue;
    out.push({
      scopes: gi.parentId !== null ? [recordScope(gi.parentId)] : [],
      a: plainText(ti.data.completion),
      b: plainText(tj.data.completion),
      pA: data.data.p,
      principle,
    });
  }
  return out;
}

/** The human side: each pair's majority winner text, under each of its item's scopes. */
export type HumanPair = { scopes: string[]; a: string; b: string; winner: string | null };

export type PrincipleAgreement = { principle: string; n: number; agree: number; rate: number | null };

const pairKey = (scope: string, x: string, y: string) => [scope, ...[x, y].sort()].join("\u0000");

/**
 * Per principle: of the AI labels whose pair people decided (a majority, not
 * a tie) and the AI decided (p ≠ 0.5), how many prefer the same response.
 */
export function aiVersusHuman(ai: readonly AiJudgement[], human: readonly HumanPair[]): PrincipleAgreement[] {
  const byPair = new Map<string, HumanPair>();
  for (const h of human) for (const scope of h.scopes) byPair.set(pairKey(scope, h.a, h.b), h);
  const tally = new Map<string, { n: number; agree: number }>();
  for (const j of ai) {
    const scope = j.scopes.find((s) => byPair.has(pairKey(s, j.a, j.b)));
    if (scope === undefined || j.pA === 0.5) continue;
    const { winner } = byPair.get(pairKey(scope, j.a, j.b)) as HumanPair;
    if (winner === null) continue;
    const entry = tally.get(j.principle) ?? { n: 0, agree: 0 };
    tally.set(j.principle, entry);
    entry.n++;
    if ((j.pA > 0.5 ? j.a : j.b) === winner) entry.agree++;
  }
  return [...tally]
    .map(([principle, { n, agree }]) => ({ principle, n, agree, rate: n === 0 ? null : agree / n }))
    .sort((x, y) => x.principle.localeCompare(y.principle));
}
