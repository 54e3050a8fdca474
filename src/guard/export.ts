/**
 * The loop back to training (`precept guard export --flagged`): the requests where the guard found a
 * principle broken, grouped by request, become (a) an annotation campaign where people see the
 * upstream's reply beside what the guard answered instead (its refusal or revision) and pick the
 * better one, so their answers confirm or reject the flag and are preference data, (b) a prompt file
 * for `cai revise --prompts` (the next round of SL-CAI), and (c) a JSONL of the flags themselves.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Campaign, createCampaign, type ItemInput, promptScope } from "../feedback/campaign.js";
import type { Store } from "../store/store.js";
import type { DecisionData } from "./audit.js";

export type Flagged = {
  request_id: string;
  prompt: string;
  reply: string | null;
  shown: string;
  outcome: string;
  principles: { principle: string; stage: string; score: number; threshold: number; action: string }[];
};

/** The run's broken-principle decisions grouped by request, oldest first; an error when the run has none or kept no text. */
export async function flaggedRequests(store: Store, run: string): Promise<Flagged[]> {
  const records = await store.records(run, "guard_decision");
  if (records.length === 0)
    throw new Error(
      `run "${run}" has no guard decisions (list runs with \`precept store runs\`; the guard's run is --run, default "guard")`,
    );
  const byRequest = new Map<string, Flagged>();
  let withoutText = 0;
  for (const r of records) {
    const d = r.data as DecisionData;
    if (!d.violated) continue;
    if (d.prompt === undefined) {
      withoutText++;
      continue;
    }
    const entry = byRequest.get(d.request_id) ?? {
      request_id: d.request_id,
      prompt: d.prompt,
      reply: d.reply ?? null,
      shown: d.shown ?? "",
      outcome: d.outcome,
      principles: [],
    };
    entry.principles.push({ principle: d.principle, stage: d.stage, score: d.score, threshold: d.threshold, action: d.action });
    byRequest.set(d.request_id, entry);
  }
  if (byRequest.size === 0 && withoutText > 0)
    throw new Error(
      `run "${run}" has ${withoutText} flagged decisions but kept no text (--store-text none): nothing to annotate; run the guard with --store-text redacted or full`,
    );
  return [...byRequest.values()];
}

function writeLines(path: string, rows: readonly unknown[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
}

/** One JSONL row per flagged request (or any rows). */
export function writeFlagged(path: string, flagged: readonly unknown[]): void {
  writeLines(path, flagged);
}

/** `{"prompt"}` rows, each prompt once, for `precept cai revise --prompts`. */
export function writePrompts(path: string, flagged: readonly Flagged[]): number {
  const prompts = [...new Set(flagged.map((f) => f.prompt))];
  writeLines(
    path,
    prompts.map((prompt) => ({ prompt })),
  );
  return prompts.length;
}

/**
 * A campaign of the flagged replies: each item is the upstream's reply and the guard's answer
 * (`refusal` where the guard let the reply through), scoped by the prompt and each broken principle.
 * Requests blocked before the upstream answered have nothing to compare and are left out.
 */
export async function flaggedCampaign(
  store: Store,
  name: string,
  flagged: readonly Flagged[],
  options: { refusal: string; overlap?: number; sourceRun: string },
): Promise<{ campaign: Campaign; items: number }> {
  const items: ItemInput[] = flagged.flatMap((f): ItemInput[] => {
    if (f.reply === null || f.reply.trim() === "") return [];
    const other = f.shown.trim() !== f.reply.trim() ? f.shown : options.refusal;
    if (other.trim() === f.reply.trim()) return [];
    return [
      {
        key: f.request_id,
        prompt: f.prompt,
        responses: [f.reply, other],
        scopes: [promptScope(f.prompt), ...f.principles.map((p) => `guard:${p.principle}`)],
      },
    ];
  });
  if (items.length === 0)
    throw new Error(`no flagged reply to annotate in run "${options.sourceRun}" (requests blocked on input have no reply)`);
  const campaign = await createCampaign(
    store,
    name,
    { overlap: options.overlap ?? 1, sourceRun: options.sourceRun, guidelines: "Pick the better reply. Flag what breaks the policy." },
    items,
  );
  return { campaign, items: items.length };
}
