/**
 * Exports of a campaign. Consensus: one TRL preference row per pair of
 * responses that people decided, `{"prompt", "chosen", "rejected",
 * "margin"}`, the margin being the agreement strength (winner − loser votes) /
 * votes times `marginScale`, so unanimous pairs push the reward model harder
 * than split ones; `precept train rm` reads it as is. "All unacceptable"
 * answers count as votes for neither response (`UnacceptablePolicy`): a row
 * from an item that has them says how many (`unacceptable_votes`), and pairs
 * they leave undecided are counted, not exported. Raw: every live answer
 * with who gave it, what was shown in which order, flags and reason.
 */
import type { Store } from "../store/store.js";
import { type Campaign, itemOf } from "./campaign.js";
import { itemConsensus, pairMajority, type UnacceptablePolicy, type Vote } from "./consensus.js";
import type { AnswerData } from "./tasks.js";

export type ConsensusRow = { prompt: unknown; chosen: unknown; rejected: unknown; margin: number; unacceptable_votes?: number };

export type ConsensusOptions = { marginScale?: number; unacceptable?: UnacceptablePolicy };

/** The consensus rows, and how many pairs people ordered that "all unacceptable" votes left undecided. */
export async function consensusExport(
  store: Store,
  campaign: Campaign,
  { marginScale = 1, unacceptable = "vote" }: ConsensusOptions = {},
): Promise<{ rows: ConsensusRow[]; heldBack: number }> {
  const [rows, answers] = await Promise.all([store.campaignItems(campaign.id), store.answers(campaign.id)]);
  const votesOf = new Map<number, Vote[]>();
  for (const a of answers) {
    const data = a.data as AnswerData;
    votesOf.set(a.itemId, [
      ...(votesOf.get(a.itemId) ?? []),
      { annotator: String(a.annotatorId), ranking: data.ranking, unacceptable: data.unacceptable },
    ]);
  }
  const out: ConsensusRow[] = [];
  let heldBack = 0;
  for (const row of rows) {
    const item = itemOf(row);
    const votes = votesOf.get(row.id) ?? [];
    for (const pair of itemConsensus(item.responses.length, votes, { unacceptable }).pairs) {
      if (pair.winner === null) {
        if (pairMajority(pair, "ignore").winner !== null) heldBack++;
        continue;
      }
      const loser = pair.winner === pair.i ? pair.j : pair.i;
      out.push({
        prompt: item.prompt,
        chosen: item.responses[pair.winner],
        rejected: item.responses[loser],
        margin: Math.round(pair.strength * marginScale * 1e6) / 1e6,
        ...(pair.unacceptable && unacceptable !== "ignore" ? { unacceptable_votes: pair.unacceptable } : {}),
      });
    }
  }
  return { rows: out, heldBack };
}

export async function consensusRows(store: Store, campaign: Campaign, options: ConsensusOptions = {}): Promise<ConsensusRow[]> {
  return (await consensusExport(store, campaign, options)).rows;
}

export async function rawRows(store: Store, campaign: Campaign): Promise<Record<string, unknown>[]> {
  const [rows, answers, annotators] = await Promise.all([store.campaignItems(campaign.id), store.answers(campaign.id), store.annotators()]);
  const items = new Map(rows.map((r) => [r.id, r]));
  const names = new Map(annotators.map((a) => [a.id, a.name]));
  return answers.map((a) => {
    const row = items.get(a.itemId);
    const item = row ? itemOf(row) : null;
    const data = a.data as AnswerData;
    return {
      campaign: campaign.name,
      item: row?.key ?? null,
      annotator: names.get(a.annotatorId) ?? null,
      prompt: item?.prompt ?? null,
      responses: item?.responses ?? null,
      shown_order: a.shownOrder,
      ranking: data.ranking,
      unacceptable: data.unacceptable,
      flags: data.flags,
      reason: data.reason,
      created_at: new Date(a.createdAt).toISOString(),
    };
  });
}

export function toJsonl(rows: unknown[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join("");
}
