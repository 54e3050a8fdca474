/**
 * Published preference datasets → explicit TRL rows, streamed row by row (HH-RLHF's
 * train split is about 160k rows). A row that cannot be converted is skipped
 * and counted under its reason, with the first few `file:line` places, so one
 * bad line in a large download does not stop the rest.
 */
import { z } from "zod";
import { DatasetError, JsonlWriter, readLines } from "./files.js";
import { extractPrompt, ImplicitPromptError, toConversational } from "./implicit-prompt.js";

export type ConvertSummary = {
  input: string;
  output: string;
  read: number;
  written: number;
  /** reason → how many rows, and the first few as `file:line: problem`. */
  skipped: Record<string, { count: number; examples: string[] }>;
};

const EXAMPLES_PER_REASON = 3;
const hhRowSchema = z.object({ chosen: z.string(), rejected: z.string() });

/**
 * HH-RLHF (`{"chosen": "\n\nHuman: …\n\nAssistant: …", "rejected": "…"}`, `.jsonl`
 * or `.jsonl.gz`) → `{prompt, chosen, rejected}` as strings, or with
 * `conversational` as message lists, into `output` (`.jsonl`, or `.jsonl.gz`).
 * Nothing is written when no row converts.
 */
export async function convertHhRlhf(
  input: string,
  output: string,
  { conversational = false }: { conversational?: boolean } = {},
): Promise<ConvertSummary> {
  const summary: ConvertSummary = { input, output, read: 0, written: 0, skipped: {} };
  const skip = (reason: string, line: number, problem: string) => {
    const entry = summary.skipped[reason] ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < EXAMPLES_PER_REASON) entry.examples.push(`${input}:${line}: ${problem}`);
    summary.skipped[reason] = entry;
  };
  const writer = new JsonlWriter(output);
  try {
    for await (const { text, line } of readLines(input)) {
      if (text.trim() === "") continue;
      summary.read++;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        skip("bad JSON", line, `bad JSON: ${(error as Error).message}`);
        continue;
      }
      const row = hhRowSchema.safeParse(value);
      if (!row.success) {
        const issue = row.error.issues[0];
        skip("not an HH-RLHF row", line, `field "${issue?.path.join(".")}": ${issue?.message} (expected {"chosen": "…", "rejected": "…"})`);
        continue;
      }
      if (row.data.chosen === row.data.rejected) {
        skip("chosen and rejected are identical", line, "chosen and rejected are identical");
        continue;
      }
      try {
        const split = extractPrompt(row.data.chosen, row.data.rejected);
        await writer.write(conversational ? toConversational(split) : split);
        summary.written++;
      } catch (error) {
        if (!(error instanceof ImplicitPromptError)) throw error;
        const reason = error.message.startsWith("chosen and rejected share no prompt")
          ? "chosen and rejected share no prompt"
          : "not a Human:/Assistant: transcript";
        skip(reason, line, error.message);
      }
    }
  } catch (error) {
    writer.abort();
    throw error;
  }
  if (summary.written === 0) {
    writer.abort();
    throw new DatasetError(`${input}: no row could be converted, nothing written\n${formatSummary(summary)}`);
  }
  await writer.close();
  return summary;
}

/** The summary as the CLI prints it. */
export function formatSummary(summary: ConvertSummary): string {
  const skippedCount = Object.values(summary.skipped).reduce((sum, entry) => sum + entry.count, 0);
  const lines = [
    `read ${summary.read} row(s) from ${summary.input}; wrote ${summary.written} to ${summary.output}; skipped ${skippedCount}`,
  ];
  for (const [reason, entry] of Object.entries(summary.skipped)) {
    lines.push(`  ${entry.count} × ${reason}`, ...entry.examples.map((example) => `      ${example}`));
  }
  return lines.join("\n");
}
