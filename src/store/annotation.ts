/**
 * What the store keeps for human annotation (migration 3): campaigns and
 * their items, annotators (only a hash of each token), which annotator was
 * given which item in which response order, and their answers. The store
 * knows nothing of what settings or answers mean (that is `src/feedback/`);
 * it guarantees the parts that need a transaction: an item goes to at most
 * `overlap` annotators, an answer is stored once per idempotency key, an
 * annotator has at most one live answer per item.
 */
import { sql } from "kysely";

export type CampaignRow = { id: number; name: string; settings: unknown; createdAt: number };
export type NewCampaignItem = { key: string; data: unknown };
export type CampaignItemRow = { id: number; campaignId: number; key: string; position: number; data: unknown };
export type AnnotatorRow = { id: number; name: string; createdAt: number; revokedAt: number | null };

/** "expired": open longer than the campaign's assignment timeout, given back so others may take the item. */
export type AssignmentStatus = "assigned" | "answered" | "skipped" | "expired";
export type AssignmentRow = {
  id: number;
  campaignId: number;
  itemId: number;
  annotatorId: number;
  /** The response order this annotator sees: position → the response's index in the item. */
  shownOrder: number[];
  status: AssignmentStatus;
  /** Per annotator, increasing: the open assignment with the highest `seq` is the current task. */
  seq: number;
  assignedAt: number;
};

export type NewAnswer = { campaignId: number; itemId: number; annotatorId: number; idempotencyKey: string; data: unknown };
export type AnswerRow = NewAnswer & { id: number; shownOrder: number[]; createdAt: number; undoneAt: number | null };

export type SubmitResult =
  | { status: "stored" | "duplicate"; answer: AnswerRow }
  /** The item is not this annotator's open task (never assigned, or skipped). */
  | { status: "not_assigned" }
  /** The annotator already has a live answer for the item (under another idempotency key). */
  | { status: "already_answered" }
  /** The assignment was open longer than the timeout and was given back. */
  | { status: "expired" };

export type NextAssignmentOptions = {
  overlap: number;
  order: (item: CampaignItemRow) => number[];
  /**
   * Open assignments of the campaign last touched longer ago than this are
   * marked "expired" first, so an inactive annotator does not hold an item
   * forever; fetching one's task again touches it (no expiry when not given).
   */
  expireAfterMs?: number;
};

/** Statuses that do not take one of an item's `overlap` slots. */
export const FREE_STATUSES: AssignmentStatus[] = ["skipped", "expired"];

export interface AnnotationStore {
  /** A campaign with its items, in one transaction; an existing name is an error. */
  createCampaign(name: string, settings: unknown, items: NewCampaignItem[]): Promise<CampaignRow>;
  campaigns(): Promise<CampaignRow[]>;
  campaign(id: number): Promise<CampaignRow | null>;
  campaignItems(campaignId: number): Promise<CampaignItemRow[]>;
  campaignItem(campaignId: number, itemId: number): Promise<CampaignItemRow | null>;

  /** A new annotator; an existing name is an error. */
  addAnnotator(name: string, tokenHash: string): Promise<AnnotatorRow>;
  annotators(): Promise<AnnotatorRow[]>;
  annotatorByName(name: string): Promise<AnnotatorRow | null>;
  /** The annotator whose live (not revoked) token has this hash. */
  annotatorByTokenHash(tokenHash: string): Promise<AnnotatorRow | null>;
  /** Gives an annotator a new token hash (the old token stops working; a revoked annotator is active again). */
  setAnnotatorToken(annotatorId: number, tokenHash: string): Promise<void>;
  /** Revokes an annotator's token: it no longer signs in; their answers stay. */
  revokeAnnotator(annotatorId: number): Promise<void>;
  /** Adds an annotator to a campaign (idempotent). */
  joinCampaign(campaignId: number, annotatorId: number): Promise<void>;
  campaignMembers(campaignId: number): Promise<number[]>;
  annotatorCampaigns(annotatorId: number): Promise<number[]>;

  /**
   * The annotator's current task: their latest open assignment, else a new
   * one on an item they have not seen that fewer than `overlap` annotators
   * hold (skips do not count), fullest first so items reach their overlap
   * early. `order(item)` gives the new assignment's response order. Null
   * when nothing is left for them.
   */
  nextAssignment(
    campaignId: number,
    annotatorId: number,
    options: NextAssignmentOptions,
  ): Promise<{ assignment: AssignmentRow; item: CampaignItemRow } | null>;
  /** Marks an open assignment skipped (the item goes to someone else); false if it was not open. */
  skipAssignment(campaignId: number, annotatorId: number, itemId: number): Promise<boolean>;
  /** Stores an answer to an open assignment and closes it, in one transaction; a repeated idempotency key returns the stored answer. */
  submitAnswer(answer: NewAnswer): Promise<SubmitResult>;
  /** Withdraws the annotator's latest live answer in the campaign and reopens its item as their current task. */
  undoLastAnswer(campaignId: number, annotatorId: number): Promise<AnswerRow | null>;
  /** Live answers (or all, with `includeUndone`), oldest first. */
  answers(campaignId: number, options?: { annotatorId?: number; includeUndone?: boolean }): Promise<AnswerRow[]>;
  assignments(campaignId: number): Promise<AssignmentRow[]>;
  assignment(campaignId: number, itemId: number, annotatorId: number): Promise<AssignmentRow | null>;
  /** An annotator's counts: items answered, skipped, and still available to them (open, or with a free slot). */
  annotatorProgress(campaignId: number, annotatorId: number, overlap: number): Promise<AnnotatorProgress>;
}

export type AnnotatorProgress = { answered: number; skipped: number; remaining: number };

/** The counts behind `annotatorProgress`, one query for both engines. */
export function progressQuery(campaignId: number, annotatorId: number, overlap: number) {
  return sql<{ answered: number; skipped: number; remaining: number }>`
    SELECT
      COALESCE(SUM(CASE WHEN mine.status = 'answered' THEN 1 ELSE 0 END), 0) AS answered,
      COALESCE(SUM(CASE WHEN mine.status = 'skipped' THEN 1 ELSE 0 END), 0) AS skipped,
      COALESCE(SUM(CASE WHEN mine.status = 'assigned'
        OR (mine.status IS NULL AND (SELECT COUNT(*) FROM assignments a WHERE a.item_id = i.id AND a.status NOT IN (${sql.join(FREE_STATUSES)})) < ${overlap})
        THEN 1 ELSE 0 END), 0) AS remaining
    FROM campaign_items i
    LEFT JOIN assignments mine ON mine.item_id = i.id AND mine.annotator_id = ${annotatorId}
    WHERE i.campaign_id = ${campaignId}`;
}

/** Rows → typed objects (both engines return JSON columns as text; see connect.ts). */
function json(value: unknown): unknown {
  return value === null || value === undefined ? null : JSON.parse(value as string);
}
const optionalNumber = (value: unknown) => (value === null || value === undefined ? null : Number(value));

export function toCampaign(row: Record<string, unknown>): CampaignRow {
  return { id: Number(row.id), name: String(row.name), settings: json(row.settings), createdAt: Number(row.created_at) };
}

export function toCampaignItem(row: Record<string, unknown>): CampaignItemRow {
  return {
    id: Number(row.id),
    campaignId: Number(row.campaign_id),
    key: String(row.key),
    position: Number(row.position),
    data: json(row.data),
  };
}

export function toAnnotator(row: Record<string, unknown>): AnnotatorRow {
  return { id: Number(row.id), name: String(row.name), createdAt: Number(row.created_at), revokedAt: optionalNumber(row.revoked_at) };
}

export function toAssignment(row: Record<string, unknown>): AssignmentRow {
  return {
    id: Number(row.id),
    campaignId: Number(row.campaign_id),
    itemId: Number(row.item_id),
    annotatorId: Number(row.annotator_id),
    shownOrder: json(row.shown_order) as number[],
    status: row.status as AssignmentStatus,
    seq: Number(row.seq),
    assignedAt: Number(row.assigned_at),
  };
}

export function toAnswer(row: Record<string, unknown>): AnswerRow {
  return {
    id: Number(row.id),
    campaignId: Number(row.campaign_id),
    itemId: Number(row.item_id),
    annotatorId: Number(row.annotator_id),
    idempotencyKey: String(row.idempotency_key),
    shownOrder: json(row.shown_order) as number[],
    data: json(row.data),
    createdAt: Number(row.created_at),
    undoneAt: optionalNumber(row.undone_at),
  };
}

/** A unique-constraint violation, in either engine's words. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e.code === "23505" || e.code === "SQLITE_CONSTRAINT_UNIQUE" || /UNIQUE constraint failed/.test(e.message ?? "");
}
