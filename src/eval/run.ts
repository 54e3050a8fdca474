/**
 * Runs suites against a model: each suite's items become work items of a
 * store run (idempotent by key), claimed and processed concurrently by the
 * CAI pipelines' runner, with each result stored as the item completes. A
 * killed evaluation rerun with the same settings continues: done items are
 * not run again and none is stored twice. The run's id is a hash of what
 * determines its results (model ids, suite spec, file content, settings), so
 * a changed file or model starts a new run. At the end every done result is
 * written to `<out>/<suite>.jsonl` in item order, the summaries with
 * their intervals to `<out>/summary.json`, and the page of both to
 * `<out>/report.html`.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type RunnerProgress, runWorkItems } from "../cai/runner.js";
import { writeJsonl } from "../data/dataset.js";
import type { Store } from "../store/store.js";
import { renderEvalReport } from "./eval-report.js";
import type { ItemResult, ResultRow, Suite, SuiteContext, SuiteSummary } from "./suite.js";

export type RunSuiteOptions = {
  store: Store;
  /** Only the first `limit` items. */
  limit?: number;
  /** Items processed at once (default 8); a local model decodes them as one batch. */
  concurrency?: number;
  leaseMs?: number;
  onProgress?: (suite: string, progress: RunnerProgress) => void;
  onWait?: (suite: string, claimedElsewhere: number) => void;
};

export type SuiteRun = { runId: string; results: ResultRow[]; summary: SuiteSummary };

/** The store run of a suite under a context: the same inputs always give the same id. */
export function suiteRunId(suite: Suite, context: SuiteContext): string {
  const identity = {
    suite: suite.spec,
    fingerprint: suite.fingerprint,
    settings: suite.settings ?? {},
    model: context.model.id,
    judge: context.judge?.id ?? null,
    ref: context.ref?.id ?? null,
    constitution: context.constitution?.hash ?? null,
    maxTokens: context.maxTokens,
    seed: context.seed,
  };
  return `eval:${suite.name}:${createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 16)}`;
}

export async function runSuite(suite: Suite, context: SuiteContext, options: RunSuiteOptions): Promise<SuiteRun> {
  const { store } = options;
  await suite.check?.(context);
  const all = await suite.load();
  const items = options.limit === undefined ? all : all.slice(0, options.limit);
  const runId = suiteRunId(suite, context);
  await store.putRun(runId, "eval", { suite: suite.spec, model: context.model.id, judge: context.judge?.id, ref: context.ref?.id });
  await store.enqueue(
    runId,
    items.map((item) => ({ key: item.key, kind: `eval:${suite.name}`, payload: item.payload })),
  );
  const outcome = await runWorkItems({
    store,
    runId,
    concurrency: options.concurrency ?? 8,
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    process: (work) => suite.run({ key: work.key, payload: work.payload }, context),
    ...(options.onProgress ? { onProgress: (p: RunnerProgress) => options.onProgress?.(suite.name, p) } : {}),
    ...(options.onWait ? { onWait: (n: number) => options.onWait?.(suite.name, n) } : {}),
  });
  if (outcome.errors.length > 0) {
    const first = outcome.errors[0] as { key: string; error: string; permanent: boolean };
    throw new Error(
      `${suite.name}: ${outcome.errors.length} item(s) failed (item ${first.key}: ${first.error}); ${first.permanent ? "fix the cause, then " : ""}run the same command again to continue`,
    );
  }
  const byKey = new Map((await store.items(runId)).filter((w) => w.status === "done").map((w) => [w.key, w.result as ItemResult]));
  const results: ResultRow[] = [];
  for (const item of items) {
    const result = byKey.get(item.key);
    if (result) results.push({ key: item.key, ...result });
  }
  return { runId, results, summary: suite.summarise(results, context) };
}

export type EvalSummary = {
  model: string;
  judge: string | null;
  ref: string | null;
  generatedAt: string;
  suites: Record<string, SuiteSummary & { spec: string; runId: string; results: string }>;
};

/** Runs every suite in turn, writing `<out>/<suite>.jsonl`, `<out>/summary.json` and `<out>/report.html`. */
export async function runEvaluation(
  suites: Suite[],
  context: SuiteContext,
  options: RunSuiteOptions & { out: string },
): Promise<EvalSummary> {
  const names = suites.map((s) => s.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new Error(`two suites are named "${duplicate}": give each a distinct name (NAME:KIND=FILE)`);
  mkdirSync(options.out, { recursive: true });
  const summary: EvalSummary = {
    model: context.model.id,
    judge: context.judge?.id ?? null,
    ref: context.ref?.id ?? null,
    generatedAt: new Date().toISOString(),
    suites: {},
  };
  const results: Record<string, ResultRow[]> = {};
  for (const suite of suites) {
    const run = await runSuite(suite, context, options);
    results[suite.name] = run.results;
    const file = `${suite.name}.jsonl`;
    writeJsonl(join(options.out, file), run.results);
    summary.suites[suite.name] = { spec: suite.spec, runId: run.runId, results: file, ...run.summary };
  }
  writeFileSync(join(options.out, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(options.out, "report.html"), renderEvalReport(summary, results));
  return summary;
}
