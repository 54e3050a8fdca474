/**
 * Datasets as JSONL files in TRL's conventions, one row per line:
 * - language modelling: `{"text"}`
 * - prompt-completion: `{"prompt", "completion"}` (strings, or message lists)
 * - conversational: `{"messages": [{"role", "content"}, ...]}`
 * - preference: `{"prompt", "chosen", "rejected"}` with an optional `margin`
 *   and an optional soft `label` (probability that chosen is better, from AI feedback)
 * - prompt-only: `{"prompt"}` (PPO, GRPO, RLOO)
 * Errors name the file, the line and the field.
 */
import { createReadStream, renameSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { z } from "zod";

export const messageSchema = z.object({ role: z.string().min(1), content: z.string() });
export type Message = z.output<typeof messageSchema>;
const textOrMessages = z.union([z.string(), z.array(messageSchema).min(1)], {
  error: "expected a string or a list of {role, content} messages",
});

export const textRowSchema = z.object({ text: z.string() });
export const promptCompletionRowSchema = z.object({ prompt: textOrMessages, completion: textOrMessages });
export const messagesRowSchema = z.object({ messages: z.array(messageSchema).min(1) });
export const preferenceRowSchema = z
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
export const promptRowSchema = z.object({ prompt: textOrMessages });

export type TextRow = z.output<typeof textRowSchema>;
export type PromptCompletionRow = z.output<typeof promptCompletionRowSchema>;
export type MessagesRow = z.output<typeof messagesRowSchema>;
export type PreferenceRow = z.output<typeof preferenceRowSchema>;
export type PromptRow = z.output<typeof promptRowSchema>;
/** What SFT reads: any of the three supervised formats. */
export const sftRowSchema = z.union([messagesRowSchema, promptCompletionRowSchema, textRowSchema], {
  error: 'expected {"messages": [...]}, {"prompt", "completion"} or {"text"}',
});
export type SftRow = z.output<typeof sftRowSchema>;

export class DatasetError extends Error {}

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
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Number.POSITIVE_INFINITY });
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === "") continue;
      const checked = checkRow(line, schema);
      if ("error" in checked) {
        errors.push(`${path}:${lineNumber}: ${checked.error}`);
        if (options.stopAtError) break;
      } else rows.push({ row: checked.row, line: lineNumber });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new DatasetError(`${path}: no such file`);
    throw error;
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

/** Writes rows as JSONL through a temporary file and a rename. */
export function writeJsonl(path: string, rows: unknown[]): void {
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, rows.map((row) => `${JSON.stringify(row)}\n`).join(""));
  renameSync(temp, path);
}
