/**
 * What an evaluation suite is, whatever it measures: it loads items (each
 * with a stable key, so a rerun finds what is done), runs one item against
 * the model under test (and a judge or reference model where it needs one),
 * and summarises the per-item results. The runner (run.ts) stores each
 * result as it comes, so a killed evaluation continues where it stopped.
 *
 * Results speak one small language so that summaries and paired comparisons
 * can be generic: `outcomes` are binary (1 = yes: correct, refused, complied,
 * violated…), `groups` say which per-group rates an item counts in (a tag, an
 * XSTest type), and `details` keep everything else (responses, scores, a
 * judge's reasons).
 */
import type { LoadedConstitution } from "../constitution/load.js";
import type { Provider } from "../providers/provider.js";

export type EvalItem<P = unknown> = {
  key: string;
  payload: P;
};

export type ItemResult = {
  /** Why the item was not scored (e.g. "prompt longer than the context"); such items count as skipped. */
  skipped?: string;
  /** Binary outcomes, 1 = yes; an outcome absent from an item does not apply to it. */
  outcomes: Record<string, 0 | 1>;
  /** The groups the item counts in, e.g. `{ tag: "harmless" }` or `{ type: "homonyms" }`. */
  groups?: Record<string, string>;
  details?: Record<string, unknown>;
};

/** A stored result, as written to `<out>/<suite>.jsonl`: the item's key, then its result. */
export type ResultRow = { key: string } & ItemResult;

export type SuiteContext = {
  /** The model under test. */
  model: Provider;
  /** A judge model, for suites that use one (`--judge`). */
  judge?: Provider;
  /** A reference model (`--ref`): DPO's implicit reward on `prefs`. */
  ref?: Provider;
  constitution?: LoadedConstitution;
  /** Tokens per generated response (default 256). */
  maxTokens: number;
  seed: number;
};

export type SuiteSummary = {
  n: number;
  skipped: number;
  /** Skipped items by reason. */
  skipReasons: Record<string, number>;
  [figure: string]: unknown;
};

export interface Suite<P = unknown> {
  /** The suite's name in summaries and file names (`mc`, `xstest`, …). */
  readonly name: string;
  /** How it was asked for (`mc=hhh.jsonl`), and what else identifies its items (a content hash of the file). */
  readonly spec: string;
  readonly fingerprint: string;
  /** Every item, in file order; malformed rows are errors naming the file and line. */
  load(): Promise<EvalItem<P>[]>;
  /** Fails early, with a clear message, when the context cannot run the suite (no log-probs, no judge). */
  check?(context: SuiteContext): Promise<void>;
  run(item: EvalItem<P>, context: SuiteContext): Promise<ItemResult>;
  summarise(results: ResultRow[], context: SuiteContext): SuiteSummary;
  /** Settings that change results (beyond the models and the file), part of the run's identity. */
  readonly settings?: Record<string, unknown>;
}

/** n, skipped and skip reasons of a list of results; the rows that were scored. */
export function counted(results: ResultRow[]): { scored: ResultRow[]; base: SuiteSummary } {
  const skipReasons: Record<string, number> = {};
  const scored: ResultRow[] = [];
  for (const r of results) {
    if (r.skipped) skipReasons[r.skipped] = (skipReasons[r.skipped] ?? 0) + 1;
    else scored.push(r);
  }
  return { scored, base: { n: scored.length, skipped: results.length - scored.length, skipReasons } };
}
