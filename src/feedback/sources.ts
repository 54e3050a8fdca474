/**
 * Campaign items from what Precept already has: stored `comparison` records
 * of a run (the pairs AI feedback judged) or a JSONL file of
 * `{"prompt", "responses": [...]}` or TRL preference rows
 * `{"prompt", "chosen", "rejected"}`. Pairs that share a prompt become one
 * item with all their distinct responses, so a prompt with k sampled
 * responses is ranked once, not in k(k−1)/2 separate screens.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { readJsonlRows } from "../data/dataset.js";
import type { StoredRecord } from "../store/store.js";
import {
  type ItemInput,
  MAX_RESPONSES,
  plainText,
  promptScope,
  recordScope,
  type TextOrMessages,
  textOrMessagesSchema,
} from "./campaign.js";

const hash = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);

type Group = { key: string; prompt: TextOrMessages; responses: TextOrMessages[]; scopes: string[] };

function addResponse(group: Group, response: TextOrMessages): void {
  const text = plainText(response);
  if (group.responses.length >= MAX_RESPONSES || group.responses.some((r) => plainText(r) === text)) return;
  group.responses.push(response);
}

function groupsToItems(groups: Iterable<Group>): ItemInput[] {
  return [...groups]
    .filter((g) => g.responses.length >= 2)
    .map(({ key, prompt, responses, scopes }) => ({ key, prompt, responses, scopes }));
}

const comparisonDataSchema = z.object({ prompt: textOrMessagesSchema, chosen: textOrMessagesSchema, rejected: textOrMessagesSchema });

/** Items from a run's `comparison` records, grouped by their prompt record (or prompt text). */
export function itemsFromComparisons(records: readonly StoredRecord[]): ItemInput[] {
  const groups = new Map<string, Group>();
  for (const record of records) {
    if (record.kind !== "comparison") continue;
    const parsed = comparisonDataSchema.safeParse(record.data);
    if (!parsed.success) continue;
    const { prompt, chosen, rejected } = parsed.data;
    const groupKey = record.parentId !== null ? recordScope(record.parentId) : promptScope(prompt);
    let group = groups.get(groupKey);
    if (!group) {
      const scopes = [promptScope(prompt), ...(record.parentId !== null ? [recordScope(record.parentId)] : [])];
      group = { key: `${record.runId}/${record.parentId ?? hash(prompt)}`, prompt, responses: [], scopes };
      groups.set(groupKey, group);
    }
    addResponse(group, chosen);
    addResponse(group, rejected);
  }
  return groupsToItems(groups.values());
}

const jsonlRowSchema = z.union([
  z.object({ prompt: textOrMessagesSchema, responses: z.array(textOrMessagesSchema).min(2).max(MAX_RESPONSES) }),
  z.object({ prompt: textOrMessagesSchema, chosen: textOrMessagesSchema, rejected: textOrMessagesSchema }),
]);

/** Items from JSONL; a bad row is an error naming the file and line. */
export async function itemsFromJsonl(path: string): Promise<ItemInput[]> {
  const { rows, errors } = await readJsonlRows(path, jsonlRowSchema, { stopAtError: true });
  if (errors[0]) throw new Error(errors[0]);
  if (rows.length === 0) throw new Error(`${path}: no rows`);
  const groups = new Map<string, Group>();
  for (const { row } of rows) {
    const scope = promptScope(row.prompt);
    let group = groups.get(scope);
    if (!group) {
      group = { key: hash(row.prompt), prompt: row.prompt, responses: [], scopes: [scope] };
      groups.set(scope, group);
    }
    for (const response of "responses" in row ? row.responses : [row.chosen, row.rejected]) addResponse(group, response);
  }
  return groupsToItems(groups.values());
}
