/**
 * What an annotator does in a campaign: get the current task (responses in
 * their own recorded random order), answer it, skip it, undo their last
 * answer. Answers arrive in *shown positions* and are stored as response
 * indices of the item, with the order that was shown, so position bias can be
 * measured later and no answer depends on how the screen was laid out.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { AnswerRow, CampaignItemRow, AnnotatorProgress as Progress } from "../store/annotation.js";
import type { Store } from "../store/store.js";
import { type Campaign, type Item, itemOf, MAX_RESPONSES, type TextOrMessages } from "./campaign.js";

/** A bad input, named by its field: the server answers 400 with it. */
export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const position = z
  .number()
  .int()
  .min(0)
  .max(MAX_RESPONSES - 1);
export const answerBodySchema = z.object({
  itemId: z.number().int().positive(),
  /** Chosen by the client per answer; a resubmission with the same key is stored once. */
  idempotencyKey: z.string().regex(/^[A-Za-z0-9_-]{8,100}$/, "8-100 letters, digits, _ or -"),
  /** Shown positions, best first: one for "pick", all for "rank". */
  ranking: z.array(position).max(MAX_RESPONSES).default([]),
  unacceptable: z.boolean().default(false),
  flags: z
    .array(z.object({ response: position, flag: z.string().max(40) }))
    .max(64)
    .default([]),
  reason: z.string().max(2000).default(""),
});
export type AnswerBody = z.input<typeof answerBodySchema>;

/** What an answer means, in the item's own response indices. */
export type AnswerData = {
  ranking: number[];
  unacceptable: boolean;
  flags: { response: number; flag: string }[];
  reason: string;
};

export type Task = {
  campaignId: number;
  itemId: number;
  prompt: TextOrMessages;
  /** In the order this annotator sees them. */
  responses: TextOrMessages[];
  progress: Progress;
};

/** A permutation of 0..n−1 from (seed, annotator, item): the same annotator sees the same order after a reload. */
export function responseOrder(seed: number, annotatorId: number, itemId: number, n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const digest = createHash("sha256").update(`${seed}:${annotatorId}:${itemId}`).digest();
  for (let i = n - 1; i > 0; i--) {
    const j = digest.readUInt32BE((i % 8) * 4) % (i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

export function progressOf(store: Store, campaign: Campaign, annotatorId: number): Promise<Progress> {
  return store.annotatorProgress(campaign.id, annotatorId, campaign.settings.overlap);
}

/** The annotator's current task, or null when the campaign has nothing left for them. */
export async function nextTask(store: Store, campaign: Campaign, annotatorId: number): Promise<Task | null> {
  const next = await store.nextAssignment(campaign.id, annotatorId, {
    overlap: campaign.settings.overlap,
    ...(campaign.settings.assignmentTimeoutMinutes > 0 ? { expireAfterMs: campaign.settings.assignmentTimeoutMinutes * 60_000 } : {}),
    order: (item: CampaignItemRow) => responseOrder(campaign.settings.seed, annotatorId, item.id, itemOf(item).responses.length),
  });
  if (!next) return null;
  const item = itemOf(next.item);
  return {
    campaignId: campaign.id,
    itemId: next.item.id,
    prompt: item.prompt,
    responses: next.assignment.shownOrder.map((i) => item.responses[i] as TextOrMessages),
    progress: await progressOf(store, campaign, annotatorId),
  };
}

/** Checks an answer against its item and campaign and maps shown positions to response indices. */
export function answerData(body: z.output<typeof answerBodySchema>, campaign: Campaign, item: Item, shownOrder: number[]): AnswerData {
  const n = item.responses.length;
  for (const [k, p] of body.ranking.entries()) if (p >= n) throw new InputError(`ranking.${k}`, `there are only ${n} responses`);
  if (new Set(body.ranking).size !== body.ranking.length) throw new InputError("ranking", "a response appears twice");
  if (!body.unacceptable || body.ranking.length > 0) {
    const expected = campaign.settings.mode === "pick" ? 1 : n;
    if (body.ranking.length !== expected)
      throw new InputError(
        "ranking",
        campaign.settings.mode === "pick" ? "pick exactly one response (or mark all unacceptable)" : `rank all ${n} responses`,
      );
  }
  const seen = new Set<string>();
  for (const [k, f] of body.flags.entries()) {
    if (f.response >= n) throw new InputError(`flags.${k}.response`, `there are only ${n} responses`);
    if (!campaign.settings.flags.includes(f.flag)) throw new InputError(`flags.${k}.flag`, `"${f.flag}" is not offered in this campaign`);
    // One flag counts once per response: a repeated one would inflate the flag statistics.
    const pair = `${f.response}\u0000${f.flag}`;
    if (seen.has(pair)) throw new InputError(`flags.${k}`, `response ${f.response} already has the flag "${f.flag}" in this answer`);
    seen.add(pair);
  }
  const original = (p: number) => shownOrder[p] as number;
  return {
    ranking: body.ranking.map(original),
    unacceptable: body.unacceptable,
    flags: body.flags.map((f) => ({ response: original(f.response), flag: f.flag })),
    reason: body.reason,
  };
}

export type SubmitOutcome =
  | { status: "stored" | "duplicate"; answer: AnswerRow }
  | { status: "not_assigned" | "already_answered" | "unknown_item" | "expired" };

export async function submitAnswer(
  store: Store,
  campaign: Campaign,
  annotatorId: number,
  body: z.output<typeof answerBodySchema>,
): Promise<SubmitOutcome> {
  const row = await store.campaignItem(campaign.id, body.itemId);
  if (!row) return { status: "unknown_item" };
  const assignment = await store.assignment(campaign.id, body.itemId, annotatorId);
  if (!assignment) return { status: "not_assigned" };
  const data = answerData(body, campaign, itemOf(row), assignment.shownOrder);
  return store.submitAnswer({ campaignId: campaign.id, itemId: body.itemId, annotatorId, idempotencyKey: body.idempotencyKey, data });
}
