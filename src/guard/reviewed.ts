/**
 * People's answers on a flagged-replies campaign (`guard export --campaign`) as classifier data: in
 * each item the upstream's reply (response 0) stands beside the guard's answer (response 1). When the
 * consensus prefers the guard's answer the flag is confirmed (the reply breaks each flagged
 * principle); when it prefers the reply the flag is rejected (the reply keeps them). Undecided items
 * give no row. The rows are `precept guard train --data` input; `annotate export --consensus` gives
 * the same answers as preference pairs.
 */
import { type Campaign, itemOf, plainText } from "../feedback/campaign.js";
import { itemConsensus, type Vote } from "../feedback/consensus.js";
import type { AnswerData } from "../feedback/tasks.js";
import type { Store } from "../store/store.js";
import type { LabelledExample } from "./train.js";

export type ReviewedLabels = { rows: LabelledExample[]; confirmed: number; rejected: number; undecided: number };

export async function reviewedLabels(store: Store, campaign: Campaign): Promise<ReviewedLabels> {
  const [items, answers] = await Promise.all([store.campaignItems(campaign.id), store.answers(campaign.id)]);
  const votes = new Map<number, Vote[]>();
  for (const a of answers) {
    const data = a.data as AnswerData;
    votes.set(a.itemId, [
      ...(votes.get(a.itemId) ?? []),
      { annotator: String(a.annotatorId), ranking: data.ranking, unacceptable: data.unacceptable },
    ]);
  }
  const out: ReviewedLabels = { rows: [], confirmed: 0, rejected: 0, undecided: 0 };
  for (const row of items) {
    const item = itemOf(row);
    const principles = item.scopes.filter((s) => s.startsWith("guard:")).map((s) => s.slice("guard:".length));
    if (principles.length === 0) continue; // not an item of a flagged-replies campaign
    const pair = itemConsensus(item.responses.length, votes.get(row.id) ?? []).pairs.find((p) => p.i === 0 && p.j === 1);
    if (!pair || pair.winner === null) {
      out.undecided++;
      continue;
    }
    const violates = pair.winner === 1;
    if (violates) out.confirmed++;
    else out.rejected++;
    const prompt = plainText(item.prompt);
    const response = plainText(item.responses[0] as (typeof item.responses)[number]);
    for (const principle of principles) out.rows.push({ principle, prompt, response, violates });
  }
  return out;
}
