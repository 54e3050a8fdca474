/**
 * Datasets as JSONL files in TRL's conventions, one row per line:
 * - language modelling: `{"text"}`
 * - prompt-completion: `{"prompt", "completion"}` (strings, or message lists)
 * - conversational: `{"messages": [{"role", "content"}, ...]}`
 * - preference: `{"prompt", "chosen", "rejected"}` with an optional `margin`
 *   and an optional soft `label` (probability that chosen is better, from AI feedback);
 *   or with an implicit prompt, `{"chosen", "rejected"}` transcripts that share it
 *   (HH-RLHF), split on reading (see implicit-prompt.ts)
 * - prompt-only: `{"prompt"}` (PPO, GRPO, RLOO)
 * Files may be gzipped (`.jsonl.gz`). Errors name the file, the line and the field.
 */
import { renameSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { z } from "zod";
import { DatasetError, readLines } from "./files.js";
import { type ExplicitPreference, extractPrompt, ImplicitPromptError } from "./implicit-prompt.js";

export { DatasetError };

export const messageSchema = z.object({ role: z.string().min(1), content: z.string() });
export type Message = z.output<typeof messageSchema>;
const textOrMessages = z.union([z.string(), z.array(messageSchema).min(1)], {
  error: "expected a string or a list of {role, content} messages",
});

export const textRowSchema = z.object({ text: z.string() });
export const promptCompletionRowSchema = z.object({ prompt: textOrMessages, completion: textOrMessages });
export const messagesRowSchema = z.object({ messages: z.array(messageSchema).min(1) });
const explicitPreferenceRowSchema = z
  .object({
    prompt: textOrMessages,
    chosen: textOrMessages,
    rejected: textOrMessages,
    margin: z.number().optional(),
    label: z.number().min(0).max(1).optional(),
  })
  .refine((row) => JSON.stringify(row.chosen) !== JSON.stringify(row.rejected), {
    message: "chosen and rejected are identical",
    path: ["chosen"],
  });
const implicitPairSchema = z.object({ chosen: textOrMessages, rejected: textOrMessages });

/** A row without "prompt" whose chosen and rejected share it (TRL's implicit prompt) is split before validation. */
function splitImplicit(value: unknown, ctx: z.RefinementCtx): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value) || "prompt" in value) return value;
  if (!("chosen" in value) && !("rejected" in value)) return value;
  const pair = implicitPairSchema.safeParse(value);
  if (!pair.success) {
    for (const issue of pair.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
    return z.NEVER;
  }
  if (JSON.stringify(pair.data.chosen) === JSON.stringify(pair.data.rejected)) {
    ctx.addIssue({ code: "custom", message: "chosen and rejected are identical", path: ["chosen"] });
    return z.NEVER;
  }
  let split: ExplicitPreference<unknown>;
  try {
    split = extractPrompt(pair.data.chosen, pair.data.rejected);
  } catch (error) {
    if (!(error instanceof ImplicitPromptError)) throw error;
    ctx.addIssue({ code: "custom", message: `no "prompt" field, and ${error.message}`, path: [] });
    return z.NEVER;
  }
  return { ...value, ...split };
}

export const preferenceRowSchema = z.preprocess(splitImplicit, explicitPreferenceRowSchema);
/** Prompts for online RL; a preference row gives its prompt, so an HH-RLHF file serves as PPO prompts too. */
export const promptRowSchema = z.preprocess(splitImplicit, z.object({ prompt: textOrMessages }));

export type TextRow = z.output<typeof textRowSchema>;
export type PromptCompletionRow = z.output<typeof promptCompletionRowSchema>;
export type MessagesRow = z.output<typeof messagesRowSchema>;
export type PreferenceRow = z.output<typeof preferenceRowSchema>;
export type PromptRow = z.output<typeof promptRowSchema>;
/**
 * A row with "prompt" or "completion" (and no "messages") is a prompt-completion
 * row, checked as one, so a missing "completion" is reported as that, not as a
 * problem with "messages" (the first branch of the union).
 */
function checkPromptCompletion(value: unknown, ctx: z.RefinementCtx): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value) || "messages" in value) return value;
  if (!("prompt" in value) && !("completion" in value)) {
    if ("text" in value) return value;
    const keys = Object.keys(value).map((k) => JSON.stringify(k));
    ctx.addIssue({ code: "custom", message: `${SFT_FORMATS}; this row has ${keys.join(", ") || "no fields"}`, path: [] });
    return z.NEVER;
  }
  const row = promptCompletionRowSchema.safeParse(value);
  if (row.success) return value;
  for (const issue of row.error.issues) {
    const missing = issue.path.length === 1 && !((issue.path[0] as string) in value);
    const message = missing ? `missing; a prompt-completion row needs both "prompt" and "completion"` : issue.message;
    ctx.addIssue({ code: "custom", message, path: issue.path });
  }
  return z.NEVER;
}

const SFT_FORMATS = 'expected {"messages": [...]}, {"prompt", "completion"} or {"text"}';

/** What SFT reads: any of the three supervised formats. */
export const sftRowSchema = z.preprocess(
  checkPromptCompletion,
  z.union([messagesRowSchema, promptCompletionRowSchema, textRowSchema], { error: SFT_FORMATS }),
);
export type SftRow = z.output<typeof sftRowSchema>;

/** Reads a JSONL file, validating each row; blank lines are skipped, an empty file is an error. */
export async function readJsonl<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>[]> {
  return (await readJsonlLines(path, schema)).map((entry) => entry.row);
}

/** Like `readJsonl`, with each row's 1-based line number (blank lines counted), for later errors that name the line. */
export async function readJsonlLines<S extends z.ZodType>(path: string, schema: S): Promise<{ row: z.output<S>; line: number }[]> {
  const { rows, errors } = await readJsonlRows(path, schema, { stopAtError: true });
  if (errors[0]) throw new DatasetError(errors[0]);
  if (rows.length === 0) throw new DatasetError(`${path}: no rows (the file is empty)`);
  return rows;
}

/**
 * Reads every valid row and names each bad one (`file:line: problem`) instead
 * of stopping at the first, for pipelines that should process the good rows
 * and report the rest.
 */
export async function readJsonlRows<S extends z.ZodType>(
  path: string,
  schema: S,
  options: { stopAtError?: boolean } = {},
): Promise<{ rows: { row: z.output<S>; line: number }[]; errors: string[] }> {
  const rows: { row: z.output<S>; line: number }[] = [];
  const errors: string[] = [];
  for await (const { text, line } of readLines(path)) {
    if (text.trim() === "") continue;
    const checked = checkRow(text, schema);
    if ("error" in checked) {
      errors.push(`${path}:${line}: ${checked.error}`);
      if (options.stopAtError) break;
    } else rows.push({ row: checked.row, line });
  }
  return { rows, errors };
}

function checkRow<S extends z.ZodType>(line: string, schema: S): { row: z.output<S> } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { error: `bad JSON: ${(error as Error).message}` };
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return { row: parsed.data };
  const issue = deepestIssue(parsed.error.issues);
  const field = issue.path.length > 0 ? `field "${issue.path.join(".")}": ` : "";
  return { error: `${field}${issue.message}` };
}

/** For unions, the issue of the branch that got furthest says most about what is wrong. */
function deepestIssue(issues: z.core.$ZodIssue[]): z.core.$ZodIssue {
  let best = issues[0] as z.core.$ZodIssue;
  for (const issue of issues) {
    if (issue.code === "invalid_union" && "errors" in issue) {
      for (const branch of issue.errors as z.core.$ZodIssue[][]) {
        const candidate = deepestIssue(branch);
        if (candidate.path.length > best.path.length) best = { ...candidate, path: [...issue.path, ...candidate.path] };
      }
    }
  }
  return best;
}

/** Writes rows as JSONL (gzipped when `path` ends in `.gz`) through a temporary file and a rename. */
export function writeJsonl(path: string, rows: unknown[]): void {
  const temp = `${path}.tmp-${process.pid}`;
  const text = rows.map((row) => `${JSON.stringify(row)}\n`).join("");
  writeFileSync(temp, path.endsWith(".gz") ? gzipSync(text) : text);
  renameSync(temp, path);
}
