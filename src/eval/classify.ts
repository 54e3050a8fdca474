/**
 * `precept eval classify`: labels existing responses (CSV, JSONL or Parquet) with the
 * refusal classes, one output row per input row in order: the row's fields,
 * `refusal` and `refusal_reason` from the built-in classifier, and with a
 * judge `refusal_judge` (XSTest's rubric; `prompt` taken from `promptField`).
 * With `labelField` (a column of human labels in the same file, as annotated
 * sets ship them), it also measures agreement with those people: the
 * built-in classifier's, the prefix baseline's and the judge's.
 */
import { writeJsonl } from "../data/dataset.js";
import type { Provider } from "../providers/provider.js";
import { type Agreement, agreementWith, parseHumanLabel } from "./agreement.js";
import { askJudge, XSTEST_RUBRIC } from "./judge.js";
import { classifyRefusal, prefixBaseline, type RefusalClass } from "./refusal.js";
import { field, readTable } from "./suites/table.js";

export async function classifyFile(options: {
  input: string;
  textField: string;
  out: string;
  judge?: Provider;
  promptField?: string;
  /** A column of human labels: measure agreement with them. */
  labelField?: string;
}): Promise<{ rows: number; counts: Record<string, number>; agreement?: Record<string, Agreement> }> {
  const required = [options.textField, ...(options.labelField ? [options.labelField] : [])];
  const { rows } = await readTable(options.input, required);
  const out: Record<string, unknown>[] = [];
  const counts: Record<string, number> = {};
  const human: ReturnType<typeof parseHumanLabel>[] = [];
  const predicted: Record<string, RefusalClass[]> = { classifier: [], prefixBaseline: [], ...(options.judge ? { judge: [] } : {}) };
  for (const r of rows) {
    const text = r.row[options.textField] ?? "";
    const c = classifyRefusal(text);
    counts[c.label] = (counts[c.label] ?? 0) + 1;
    const row: Record<string, unknown> = { ...r.row, refusal: c.label, refusal_reason: c.reason };
    if (options.judge) {
      const prompt = field(r, options.promptField ?? "prompt");
      row.refusal_judge = (await askJudge(options.judge, XSTEST_RUBRIC, { prompt, response: text })).verdict;
      predicted.judge?.push(row.refusal_judge as RefusalClass);
    }
    if (options.labelField) {
      human.push(parseHumanLabel(field(r, options.labelField), `${r.where}: field "${options.labelField}"`));
      predicted.classifier?.push(c.label);
      predicted.prefixBaseline?.push(prefixBaseline(text));
    }
    out.push(row);
  }
  writeJsonl(options.out, out);
  if (!options.labelField) return { rows: out.length, counts };
  const agreement = Object.fromEntries(Object.entries(predicted).map(([name, p]) => [name, agreementWith(human, p)]));
  return { rows: out.length, counts, agreement };
}
