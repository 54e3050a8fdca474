/** What `precept cai revise|label|run` do once their options are parsed. */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { labelConfigSchema, parsePipelineConfig, reviseConfigSchema } from "../cai/configs.js";
import { runLabel, runRevise, type Summary } from "../cai/pipeline.js";
import { loadConstitution } from "../constitution/load.js";
import type { Provider } from "../providers/provider.js";
import { failedGates, warnLines } from "../quality/gate.js";
import { openProviders } from "../recipes/open-providers.js";
import { loadRecipe, recipeDirs, runRecipe } from "../recipes/recipe.js";
import { openStore } from "../store/store.js";
import { pipelineSettings } from "./pipeline-options.js";
import { itemProgress } from "./progress.js";

/** The options of one invocation; the pipeline's settings come from its config schema (src/cai/configs.ts). */
type Invocation = {
  run?: string;
  limit?: number;
  json: boolean;
  /** Exit non-zero when a quality gate fails. */
  strict: boolean;
  /** Not given: 1 item retry and the HTTP client's default request retries. */
  retries?: number;
  concurrency: number;
};

/** `--retries` given on the command line also bounds each HTTP request's retries (`--retries 0`: one attempt). */
function httpRetries(o: Invocation): { maxRetries?: number } {
  return o.retries !== undefined ? { maxRetries: o.retries } : {};
}

function control(o: Invocation, label: string) {
  const progress = itemProgress(label);
  return {
    progress,
    options: {
      ...(o.run ? { runId: o.run } : {}),
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
      onProgress: progress.onProgress,
      onWait: progress.onWait,
    },
  };
}

/** Prints what happened and what to do next; exit code 2 when rows were bad or items are left, 1 when a gate failed under --strict. */
function finish(summary: Summary, lines: string[], json: boolean, strict = false): void {
  if (json) console.log(JSON.stringify(summary, null, 2));
  else {
    const { pending, claimed, done, failed } = summary.items;
    console.log(
      `run ${summary.run}: ${done} done, ${pending + claimed} pending, ${failed} failed (${summary.processedNow} now, ${summary.seconds.toFixed(1)} s)`,
    );
    console.log(
      `  ${summary.calls} model calls, ${summary.tokens.prompt} prompt + ${summary.tokens.completion} completion tokens${summary.costUsd > 0 ? `, $${summary.costUsd.toFixed(4)}` : ""}${summary.reusedSteps > 0 ? `, ${summary.reusedSteps} stored steps reused` : ""}`,
    );
    for (const line of lines) console.log(`  ${line}`);
    for (const line of warnLines(summary.gates)) console.log(line);
  }
  const failedGateCount = failedGates(summary.gates).length;
  if (strict && failedGateCount > 0) {
    console.error(
      `${failedGateCount} quality gate(s) failed under --strict (see the WARN lines): fix the data or model, or run without --strict`,
    );
    process.exitCode = 1;
  }
  for (const bad of summary.badRows) console.error(`skipped a malformed row: ${bad}`);
  for (const e of summary.errors.slice(0, 5)) console.error(`left pending after errors: ${e.key}: ${e.error}`);
  const { pending, claimed, failed } = summary.items;
  if (summary.badRows.length > 0 || pending + claimed + failed > 0) {
    // Running again only helps items that met a passing fault (a timeout, a rate limit, a crash).
    const permanent = summary.errors.filter((e) => e.permanent).length;
    if (permanent > 0)
      console.error(
        `${permanent} item(s) failed with an error that running again will not fix (a refused option or input, see above): fix its cause, then run the command again`,
      );
    if (pending + claimed > permanent) console.error("some items are not done: run the same command again to continue");
    process.exitCode ??= 2;
  }
}

export async function revise(
  o: Invocation & { prompts: string; constitution: string; policy: string; critic?: string; helpful?: string; out: string },
  db: string,
): Promise<void> {
  const settings = parsePipelineConfig(reviseConfigSchema, pipelineSettings(reviseConfigSchema, o), "cai revise");
  const constitution = loadConstitution(o.constitution);
  const store = await openStore(db);
  try {
    const providers = await openProviders([o.policy, o.critic ?? o.policy], store, o.concurrency, httpRetries(o));
    const { progress, options } = control(o, "revise");
    const summary = await runRevise({
      ...settings,
      ...options,
      store,
      constitution,
      policy: providers.get(o.policy) as Provider,
      critic: providers.get(o.critic ?? o.policy) as Provider,
      prompts: o.prompts,
      ...(o.helpful ? { helpful: o.helpful } : {}),
      outDir: o.out,
    }).finally(() => progress.stop());
    finish(
      summary,
      [
        `${(summary.revisedShare * 100).toFixed(1)}% of red-team responses changed, ${summary.meanRevisions.toFixed(2)} revisions each on average`,
        `SFT data: ${summary.sft.path} (${summary.sft.rows} rows); preferences: ${summary.preferences.path} (${summary.preferences.rows} rows)`,
        `next: precept train sft --model_name_or_path <base> --train_file ${summary.sft.path} --output_dir runs/sl-cai`,
      ],
      o.json,
      o.strict,
    );
  } finally {
    await store.close();
  }
}

export async function label(
  o: Invocation & { prompts: string; constitution: string; policy?: string; feedback?: string; contrast?: string; out: string },
  db: string,
): Promise<void> {
  const settings = parsePipelineConfig(labelConfigSchema, pipelineSettings(labelConfigSchema, o), "cai label");
  const constitution = loadConstitution(o.constitution);
  const feedbackId = o.feedback ?? o.policy;
  if (!feedbackId) throw new Error("give --feedback (the model that compares responses) or --policy");
  const store = await openStore(db);
  try {
    const providers = await openProviders(
      [...(o.policy ? [o.policy] : []), feedbackId, ...(o.contrast ? [o.contrast] : [])],
      store,
      o.concurrency,
      httpRetries(o),
    );
    const { progress, options } = control(o, "label");
    const summary = await runLabel({
      ...settings,
      ...options,
      store,
      constitution,
      ...(o.policy ? { policy: providers.get(o.policy) as Provider } : {}),
      feedback: providers.get(feedbackId) as Provider,
      ...(o.contrast ? { contrast: providers.get(o.contrast) as Provider } : {}),
      prompts: o.prompts,
      out: o.out,
    }).finally(() => progress.stop());
    finish(
      summary,
      [
        `labels by ${summary.method === "logprobs" ? "answer log-probs" : `sampling ${settings.samples} answers (the provider gives no log-probs)`}: ${summary.pairs} pairs, mean confidence ${summary.meanConfidence.toFixed(3)}, position-bias rate ${(summary.positionBiasRate * 100).toFixed(1)}%, first position picked ${(summary.firstPositionRate * 100).toFixed(1)}%`,
        `preferences: ${summary.out}`,
        `next: precept train rm --model_name_or_path <model> --train_file ${summary.out} --output_dir runs/rm`,
      ],
      o.json,
      o.strict,
    );
  } finally {
    await store.close();
  }
}

/** `precept cai run CONFIG`: the recipe, its records in the store at `db` (--db). */
export async function recipe(config: string, options: { force?: string; strict?: boolean }, db: string): Promise<void> {
  const store = await openStore(db);
  try {
    const outcomes = await runRecipe(config, store, options);
    const out = loadRecipe(config).out;
    const dirs = recipeDirs(out);
    console.log(outcomes.map((o) => `${o.name}: ${o.status}${o.status === "ran" ? ` (${o.seconds.toFixed(1)} s)` : ""}`).join(", "));
    console.log(
      `SL-CAI model: ${dirs.slCai}; reward model: ${dirs.rm}; RL-CAI: ${outcomes.some((o) => o.name === "ppo") ? dirs.ppo : dirs.dpo}`,
    );
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as { verdict: string };
    console.log(`report: ${join(out, "report.html")}: ${report.verdict}`);
  } finally {
    await store.close();
  }
}
