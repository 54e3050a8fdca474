/**
 * AI feedback versus people: how often the stored `ai_label` records for a
 * pair of responses prefer the same response as the human consensus, per
 * constitution principle. Two record shapes are read:
 * - the AI-feedback pipeline's (`precept cai label`): key
 *   `<item>/<i>-<j>/<n>`, data `{p}` = P(response i is better), responses i
 *   and j being the i-th and j-th of the item's `generation` records in the
 *   order the pipeline made them (sampled `s0, s1, …`, then a contrast model's
 *   `c0`: the quickstart's second response), whatever they are named; the
 *   pair's `comparison` record `<item>/<i>-<j>`, when stored, must hold the
 *   same two texts, so a label is never matched to responses it did not judge;
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

/** Sampled responses first (`s0`, `s1`, …), then any other (a contrast model's `c0`), each group by its number: the pipeline's order. */
function responseOrder(a: string, b: string): number {
  const rank = (name: string) => [name.startsWith("s") ? 0 : 1, Number(name.replace(/^\D+/, "")) || 0, name] as const;
  const [x, y] = [rank(a), rank(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2].localeCompare(y[2]);
}

/** Each item's responses (run + item key → its generation records, in the pipeline's order). */
function responsesByItem(records: readonly StoredRecord[]): Map<string, StoredRecord[]> {
  const named = new Map<string, { name: string; record: StoredRecord }[]>();
  for (const r of records) {
    if (r.kind !== "generation") continue;
    const cut = r.key.lastIndexOf("/");
    if (cut < 0) continue;
    const item = `${r.runId}\u0000${r.key.slice(0, cut)}`;
    named.set(item, [...(named.get(item) ?? []), { name: r.key.slice(cut + 1), record: r }]);
  }
  return new Map([...named].map(([item, list]) => [item, list.sort((x, y) => responseOrder(x.name, y.name)).map((x) => x.record)]));
}

const sameTexts = (x: string[], y: string[]) => [...x].sort().join("\u0000") === [...y].sort().join("\u0000");

/** Every `ai_label` record of `records` whose pair can be read; the rest are left out. */
export function aiJudgements(records: readonly StoredRecord[]): AiJudgement[] {
  const responses = responsesByItem(records);
  const comparisons = new Map<string, StoredRecord>();
  for (const r of records) if (r.kind === "comparison") comparisons.set(`${r.runId}\u0000${r.key}`, r);
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
    const [, item, i, j] = match as unknown as [string, string, string, string];
    const ofItem = responses.get(`${r.runId}\u0000${item}`) ?? [];
    const gi = ofItem[Number(i)];
    const gj = ofItem[Number(j)];
    const ti = generationData.safeParse(gi?.data);
    const tj = generationData.safeParse(gj?.data);
    if (!gi || !ti.success || !tj.success) continue;
    const a = plainText(ti.data.completion);
    const b = plainText(tj.data.completion);
    const pair = trlData.safeParse(comparisons.get(`${r.runId}\u0000${item}/${i}-${j}`)?.data);
    if (pair.success && !sameTexts([a, b], [plainText(pair.data.chosen), plainText(pair.data.rejected)])) continue;
    out.push({ scopes: gi.parentId !== null ? [recordScope(gi.parentId)] : [], a, b, pA: data.data.p, principle });
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
