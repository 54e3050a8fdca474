/**
 * An annotation campaign: items (a conversation and 2..8 responses) and the
 * settings annotators work under: pick the best or rank all, how many
 * annotators see each item (overlap), which flags to offer, the guideline
 * text (Markdown), and where AI labels for the same pairs live.
 */
import { z } from "zod";
import { messageSchema } from "../data/dataset.js";
import type { CampaignItemRow, CampaignRow } from "../store/annotation.js";
import type { Store } from "../store/store.js";

/** The flags the issue names; a campaign may offer a subset or add its own. */
export const DEFAULT_FLAGS = ["pii", "hate_harassment", "dangerous_advice", "medical_no_disclaimer", "other"] as const;

export const MAX_RESPONSES = 8;
const MAX_TEXT = 100_000;

export const textOrMessagesSchema = z.union([z.string().max(MAX_TEXT), z.array(messageSchema).min(1).max(64)], {
  error: "expected a string or a list of {role, content} messages",
});
export type TextOrMessages = z.output<typeof textOrMessagesSchema>;

export const campaignSettingsSchema = z.object({
  mode: z.enum(["pick", "rank"]).default("pick"),
  overlap: z.number().int().min(1).max(100).default(3),
  flags: z
    .array(z.string().regex(/^[a-z0-9_]{1,40}$/, "flags are lower-case words with underscores"))
    .max(20)
    .default([...DEFAULT_FLAGS]),
  guidelines: z.string().max(200_000).default(""),
  /** Minutes an open assignment may sit untouched before it is given back for others to take (0: never). */
  assignmentTimeoutMinutes: z.number().min(0).max(525_600).default(60),
  /** Seeds each annotator's response order, so it is reproducible (and recorded anyway). */
  seed: z.number().int().default(0),
  /** The run the items came from, if any. */
  sourceRun: z.string().nullable().default(null),
  /** Runs whose `ai_label` records are compared with the human consensus (default: the source run). */
  aiRuns: z.array(z.string()).default([]),
});
export type CampaignSettings = z.output<typeof campaignSettingsSchema>;

export const itemSchema = z
  .object({
    key: z.string().min(1).max(500).optional(),
    prompt: textOrMessagesSchema,
    responses: z.array(textOrMessagesSchema).min(2).max(MAX_RESPONSES),
    /** Where the item came from: AI labels are matched through these scopes (see ai-labels.ts). */
    scopes: z.array(z.string()).default([]),
  })
  .refine((item) => new Set(item.responses.map(plainText)).size === item.responses.length, {
    message: "responses must differ",
    path: ["responses"],
  });
export type ItemInput = z.input<typeof itemSchema>;
export type Item = z.output<typeof itemSchema>;

export type Campaign = { id: number; name: string; settings: CampaignSettings; createdAt: number };

/** The text a person reads: a string as is, a message list as its contents. */
export function plainText(value: TextOrMessages): string {
  return (typeof value === "string" ? value : value.map((m) => m.content).join("\n")).trim();
}

/** Scopes tie an item to AI labels about the same prompt: the prompt record's id, and the prompt text. */
export function promptScope(prompt: TextOrMessages): string {
  return `prompt:${plainText(prompt)}`;
}
export function recordScope(id: number): string {
  return `record:${id}`;
}

export function toCampaign(row: CampaignRow): Campaign {
  return { ...row, settings: campaignSettingsSchema.parse(row.settings) };
}

export function itemOf(row: CampaignItemRow): Item {
  return row.data as Item;
}

export async function createCampaign(
  store: Store,
  name: string,
  settings: z.input<typeof campaignSettingsSchema>,
  items: ItemInput[],
): Promise<Campaign> {
  if (!/^[\w .-]{1,100}$/.test(name)) throw new Error(`campaign name "${name}": use 1-100 letters, digits, spaces, dots, dashes`);
  const checked = campaignSettingsSchema.parse(settings);
  if (items.length === 0) throw new Error(`campaign "${name}": no items`);
  const parsed = items.map((item, i) => {
    const result = itemSchema.safeParse(item);
    if (!result.success) {
      const issue = result.error.issues[0] as z.core.$ZodIssue;
      throw new Error(`item ${i + 1}: ${issue.path.join(".") || "item"}: ${issue.message}`);
    }
    return { ...result.data, scopes: result.data.scopes.length > 0 ? result.data.scopes : [promptScope(result.data.prompt)] };
  });
  const row = await store.createCampaign(
    name,
    checked,
    parsed.map((item, i) => ({ key: item.key ?? `item-${i + 1}`, data: item })),
  );
  return toCampaign(row);
}

/** A campaign by id or by name. */
export async function findCampaign(store: Store, idOrName: string | number): Promise<Campaign | null> {
  const asId = typeof idOrName === "number" ? idOrName : /^\d+$/.test(idOrName) ? Number(idOrName) : null;
  if (asId !== null) {
    const row = await store.campaign(asId);
    if (row) return toCampaign(row);
  }
  const row = (await store.campaigns()).find((c) => c.name === idOrName);
  return row ? toCampaign(row) : null;
}
