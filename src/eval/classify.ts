/**
 * `precept eval classify`: labels existing responses (CSV, JSONL or Parquet) with the
 * refusal classes, one output row per input row in order: the row's fields,
 * `refusal` and `refusal_reason` from the built-in classifier, and with a
 * judge `refusal_judge` (XSTest's rubric; `prompt` taken from `promptField`).
 */
import { writeJsonl } from "../data/dataset.js";
import type { Provider } from "../providers/provider.js";
import { askJudge, XSTEST_RUBRIC } from "./judge.js";
import { classifyRefusal } from "./refusal.js";
import { field, readTable } from "./suites/table.js";

export async function classifyFile(options: {
  input: string;
  textField: string;
  out: string;
  judge?: Provider;
  promptField?: string;
}): Promise<{ rows: number; counts: Record<string, number> }> {
  const { rows } = await readTable(options.input, [options.textField]);
  const out: Record<string, unknown>[] = [];
  const counts: Record<string, number> = {};
  for (const r of rows) {
    const text = r.row[options.textField] ?? "";
    const c = classifyRefusal(text);
    counts[c.label] = (counts[c.label] ?? 0) + 1;
    const row: Record<string, unknown> = { ...r.row, refusal: c.label, refusal_reason: c.reason };
    if (options.judge) {
      const prompt = field(r, options.promptField ?? "prompt");
      row.refusal_judge = (await askJudge(options.judge, XSTEST_RUBRIC, { prompt, response: text })).verdict;
    }
    out.push(row);
  }
  writeJsonl(options.out, out);
  return { rows: out.length, counts };
}
