/**
 * The admin's view of a campaign: progress per annotator, agreement
 * (Cohen's κ for every pair of annotators, Krippendorff's α overall, over
 * pairwise preferences), the consensus per item, annotators who often
 * disagree with the others, flags, and AI labels versus the human consensus
 * per principle. Read from the store; computed by the pure functions.
 */
import type { AnswerRow } from "../store/annotation.js";
import type { Store } from "../store/store.js";
import { cohensKappa, krippendorffAlpha } from "./agreement.js";
import { type AiJudgement, aiJudgements, aiVersusHuman, type HumanPair, type PrincipleAgreement } from "./ai-labels.js";
import { type Campaign, type Item, itemOf, plainText } from "./campaign.js";
import { agreementWithConsensus, type ItemConsensus, itemConsensus, pairsOf, preferred, type Vote } from "./consensus.js";
import type { AnswerData } from "./tasks.js";

export type ReportOptions = {
  /** Agreement with the others' majority below this marks an annotator (default 0.6)... */
  lowAgreement?: number;
  /** ...once they have at least this many comparable judgements (default 3). */
  minJudgements?: number;
};

export type CampaignReport = {
  campaign: { id: number; name: string; mode: string; overlap: number; items: number; flags: string[] };
  progress: {
    answers: number;
    /** Items with `overlap` answers. */
    complete: number;
    annotators: { name: string; answered: number; skipped: number; open: number }[];
  };
  agreement: {
    alpha: number | null;
    /** Pairable judgements behind α. */
    alphaN: number;
    kappa: { a: string; b: string; kappa: number | null; n: number }[];
    withConsensus: { annotator: string; agree: number; n: number; rate: number | null; low: boolean }[];
  };
  items: {
    id: number;
    key: string;
    /** The prompt as plain text (messages joined), what the dashboard shows. */
    prompt: string;
    answers: number;
    unacceptable: number;
    flags: Record<string, number>;
    consensus: ItemConsensus;
  }[];
  flags: Record<string, number>;
  ai: PrincipleAgreement[];
};

type Loaded = { id: number; key: string; item: Item; answers: AnswerRow[] };

export async function campaignReport(store: Store, campaign: Campaign, options: ReportOptions = {}): Promise<CampaignReport> {
  const { lowAgreement = 0.6, minJudgements = 3 } = options;
  const [rows, answers, assignments, annotators] = await Promise.all([
    store.campaignItems(campaign.id),
    store.answers(campaign.id),
    store.assignments(campaign.id),
    store.annotators(),
  ]);
  const nameOf = new Map(annotators.map((a) => [a.id, a.name]));
  const name = (id: number) => nameOf.get(id) ?? `#${id}`;
  const answersOf = new Map<number, AnswerRow[]>();
  for (const a of answers) answersOf.set(a.itemId, [...(answersOf.get(a.itemId) ?? []), a]);
  const items: Loaded[] = rows.map((r) => ({ id: r.id, key: r.key, item: itemOf(r), answers: answersOf.get(r.id) ?? [] }));
  const votesOf = (l: Loaded): Vote[] =>
    l.answers.map((a) => {
      const data = a.data as AnswerData;
      return { annotator: name(a.annotatorId), ranking: data.ranking, unacceptable: data.unacceptable };
    });

  // Agreement units: one per (item, pair of responses); a value is the preferred response.
  const coders = [...new Set(answers.map((a) => name(a.annotatorId)))].sort();
  const units: (number | null)[][] = [];
  for (const l of items) {
    for (const [i, j] of pairsOf(l.item.responses.length)) {
      const unit: (number | null)[] = coders.map(() => null);
      for (const a of l.answers) unit[coders.indexOf(name(a.annotatorId))] = preferred((a.data as AnswerData).ranking, i, j);
      units.push(unit);
    }
  }
  const kappa: CampaignReport["agreement"]["kappa"] = [];
  for (let x = 0; x < coders.length; x++)
    for (let y = x + 1; y < coders.length; y++) {
      const k = cohensKappa(
        units.map((u) => u[x] ?? null),
        units.map((u) => u[y] ?? null),
      );
      if (k.n > 0) kappa.push({ a: coders[x] as string, b: coders[y] as string, kappa: k.kappa, n: k.n });
    }
  const alpha = krippendorffAlpha(units);

  const flags: Record<string, number> = {};
  const reportItems = items.map((l) => {
    const itemFlags: Record<string, number> = {};
    for (const a of l.answers)
      for (const f of (a.data as AnswerData).flags) {
        itemFlags[f.flag] = (itemFlags[f.flag] ?? 0) + 1;
        flags[f.flag] = (flags[f.flag] ?? 0) + 1;
      }
    return {
      id: l.id,
      key: l.key,
      prompt: plainText(l.item.prompt),
      answers: l.answers.length,
      unacceptable: l.answers.filter((a) => (a.data as AnswerData).unacceptable).length,
      flags: itemFlags,
      consensus: itemConsensus(l.item.responses.length, votesOf(l)),
    };
  });

  const progress = new Map<number, { answered: number; skipped: number; open: number }>();
  for (const a of assignments) {
    const p = progress.get(a.annotatorId) ?? { answered: 0, skipped: 0, open: 0 };
    progress.set(a.annotatorId, p);
    if (a.status === "answered") p.answered++;
    else if (a.status === "skipped") p.skipped++;
    else if (a.status === "assigned") p.open++; // an expired one was given back: no longer theirs
  }

  return {
    campaign: {
      id: campaign.id,
      name: campaign.name,
      mode: campaign.settings.mode,
      overlap: campaign.settings.overlap,
      items: rows.length,
      flags: campaign.settings.flags,
    },
    progress: {
      answers: answers.length,
      complete: reportItems.filter((i) => i.answers >= campaign.settings.overlap).length,
      annotators: [...progress].map(([id, p]) => ({ name: name(id), ...p })).sort((a, b) => a.name.localeCompare(b.name)),
    },
    agreement: {
      alpha: alpha.alpha,
      alphaN: alpha.n,
      kappa,
      withConsensus: agreementWithConsensus(items.map((l) => ({ n: l.item.responses.length, votes: votesOf(l) }))).map((a) => ({
        ...a,
        low: a.rate !== null && a.n >= minJudgements && a.rate < lowAgreement,
      })),
    },
    items: reportItems,
    flags,
    ai: aiVersusHuman(await aiLabelsFor(store, campaign), humanPairs(items, reportItems)),
  };
}

function humanPairs(items: Loaded[], report: CampaignReport["items"]): HumanPair[] {
  return items.flatMap((l, k) =>
    (report[k] as CampaignReport["items"][number]).consensus.pairs.map((p) => {
      const text = (r: number) => plainText(l.item.responses[r] as Item["responses"][number]);
      return { scopes: l.item.scopes, a: text(p.i), b: text(p.j), winner: p.winner === null ? null : text(p.winner) };
    }),
  );
}

async function aiLabelsFor(store: Store, campaign: Campaign): Promise<AiJudgement[]> {
  const runs =
    campaign.settings.aiRuns.length > 0 ? campaign.settings.aiRuns : campaign.settings.sourceRun ? [campaign.settings.sourceRun] : [];
  const out: AiJudgement[] = [];
  for (const run of runs) {
    const records = (await Promise.all((["ai_label", "generation", "comparison"] as const).map((kind) => store.records(run, kind)))).flat();
    out.push(...aiJudgements(records));
  }
  return out;
}
