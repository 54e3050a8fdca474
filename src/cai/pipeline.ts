/**
 * `cai revise` and `cai label` as library calls: read prompts (bad rows are
 * named and skipped, the good ones processed), register the run and its
 * constitution, enqueue one work item per prompt (idempotent), work through
 * them, then write the datasets from the store and a summary.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { canonicalJson, type LoadedConstitution } from "../constitution/load.js";
import { readJsonlRows, writeJsonl } from "../data/dataset.js";
import type { Provider } from "../providers/provider.js";
import { enforceGates, type GateResult } from "../quality/gate.js";
import type { Store, WorkStatus } from "../store/store.js";
import { type LabelConfig, labelConfigSchema, parsePipelineConfig, type ReviseConfig, reviseConfigSchema } from "./configs.js";
import { DEFAULT_NO_PROBLEM, FORMAT_VERSION } from "./format.js";
import { labelGates, reviseGates } from "./gates.js";
import { type LabelMethod, type LabelPayload, labelItem, labelMethodFor, labelStats } from "./label.js";
import { preferenceRows, sftRows, transcripts } from "./outputs.js";
import { type PromptPayload, type PromptSet, promptKey, type ReviseSettings, reviseItem } from "./revise.js";
import { type RunnerOptions, runWorkItems } from "./runner.js";
import { RecordSteps, type Tally } from "./steps.js";

const textPrompt = z.union([z.string().min(1, "the prompt is empty"), z.array(z.object({ role: z.string(), content: z.string() })).min(1)]);
const promptRow = z.object({ prompt: textPrompt, responses: z.array(z.string()).min(2).optional() });

/** A prompt as plain text (a conversation's last user turn when given as messages). */
function promptText(prompt: z.output<typeof textPrompt>): string {
  if (typeof prompt === "string") return prompt;
  const users = prompt.filter((m) => m.role === "user");
  return (users.at(-1) ?? prompt.at(-1))?.content ?? "";
}

export type PromptFileRow = { prompt: string; responses?: string[]; source: string };

/** Reads `{"prompt": …}` rows (optionally `"responses": […]`); malformed rows come back as errors naming file:line. */
export async function readPromptFile(path: string, limit?: number): Promise<{ rows: PromptFileRow[]; errors: string[] }> {
  const { rows, errors } = await readJsonlRows(path, promptRow);
  const out = rows.map(({ row, line }) => ({
    prompt: promptText(row.prompt),
    ...(row.responses ? { responses: row.responses } : {}),
    source: `${path}:${line}`,
  }));
  return { rows: limit === undefined ? out : out.slice(0, limit), errors };
}

type RunControl = Pick<RunnerOptions, "worker" | "onProgress" | "onWait"> & {
  /** Throw a `QualityGateError` (after writing the outputs and summary) when a quality gate fails. */
  strict?: boolean;
};

export type Summary = {
  run: string;
  seconds: number;
  badRows: string[];
  items: Record<WorkStatus, number>;
  processedNow: number;
  leftPending: number;
  errors: { key: string; error: string; permanent: boolean }[];
  calls: number;
  reusedSteps: number;
  tokens: { prompt: number; completion: number };
  costUsd: number;
  /** Quality gates on what the run produced (src/quality/); failed ones print WARN lines. */
  gates: GateResult[];
};

function defaultRunId(kind: string, config: unknown): string {
  return `${kind}-${createHash("sha256").update(canonicalJson(config)).digest("hex").slice(0, 12)}`;
}

function costOf(providers: Provider[]): number {
  let cost = 0;
  for (const p of new Set(providers)) cost += (p as { usage?: { costUsd?: number } }).usage?.costUsd ?? 0;
  return cost;
}

function baseSummary(run: string, started: number, badRows: string[], tally: Tally, providers: Provider[]) {
  return {
    run,
    seconds: (Date.now() - started) / 1000,
    badRows,
    calls: tally.calls,
    reusedSteps: tally.reused,
    tokens: { prompt: tally.promptTokens, completion: tally.completionTokens },
    costUsd: costOf(providers),
  };
}

async function doneKeys(store: Store, runId: string): Promise<Set<string>> {
  return new Set((await store.items(runId)).filter((i) => i.status === "done").map((i) => i.key));
}

/** The runner's options: the caller's hooks and the parsed config's concurrency, lease (seconds) and retry limits. */
function workControl(o: RunControl, c: ReviseConfig | LabelConfig) {
  return {
    ...(o.worker !== undefined ? { worker: o.worker } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.onWait ? { onWait: o.onWait } : {}),
    concurrency: c.concurrency,
    leaseMs: c.lease * 1000,
    ...(c.retries !== undefined ? { retries: c.retries } : {}),
    maxAttempts: c.maxAttempts,
  };
}

function writeOutput(path: string, rows: unknown[]): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeJsonl(path, rows);
}

// ---------------------------------------------------------------- revise

export type ReviseOptions = RunControl & {
  store: Store;
  constitution: LoadedConstitution;
  policy: Provider;
  /** The critic/reviser (default: the policy itself, as in the paper). */
  critic?: Provider;
  /** Red-team prompts (JSONL). */
  prompts: string;
  /** Helpfulness prompts (JSONL): first responses only, mixed into the SFT data. */
  helpful?: string;
  /** Helpfulness rows per red-team row in the SFT file (default: all of them). */
  helpfulRatio?: number;
  limit?: number;
  runId?: string;
  /** Where `sft.jsonl`, `preferences.jsonl` and `summary.json` go. */
  outDir: string;
  /** A critique matching this finds no problem (default: format.ts's DEFAULT_NO_PROBLEM). */
  noProblem?: RegExp;
} & Partial<ReviseConfig>;

export type ReviseSummary = Summary & {
  prompts: number;
  revisedShare: number;
  meanRevisions: number;
  sft: { path: string; rows: number };
  preferences: { path: string; rows: number };
};

export async function runRevise(o: ReviseOptions): Promise<ReviseSummary> {
  const started = Date.now();
  const c = parsePipelineConfig(reviseConfigSchema, o, "cai revise");
  const settings: ReviseSettings = {
    constitution: o.constitution,
    revisions: c.revisions ?? o.constitution.sampling.revisions,
    seed: c.seed,
    mode: c.mode,
    skipNoProblem: c.skipNoProblem,
    noProblem: o.noProblem ?? DEFAULT_NO_PROBLEM,
    fewShot: c.fewShot ?? o.constitution.few_shot.critique_revision.length,
    maxTokens: c.maxTokens,
    temperature: c.temperature,
  };
  const critic = o.critic ?? o.policy;
  const sets: [string, PromptSet][] = [[o.prompts, "red-team"]];
  if (o.helpful) sets.push([o.helpful, "helpful"]);
  const items: { key: string; kind: string; payload: PromptPayload }[] = [];
  const badRows: string[] = [];
  for (const [file, set] of sets) {
    const { rows, errors } = await readPromptFile(file, o.limit);
    badRows.push(...errors);
    for (const row of rows)
      items.push({ key: promptKey(set, row.prompt), kind: `revise:${set}`, payload: { prompt: row.prompt, set, source: row.source } });
  }
  const config = {
    prompts: resolve(o.prompts),
    helpful: o.helpful ? resolve(o.helpful) : null,
    constitution: o.constitution.hash,
    policy: o.policy.id,
    critic: critic.id,
    format: FORMAT_VERSION,
    settings: { ...settings, constitution: undefined, noProblem: settings.noProblem.source },
  };
  const runId = o.runId ?? defaultRunId("revise", config);
  await o.store.putConstitution(o.constitution.hash, o.constitution.name, o.constitution.version, o.constitution);
  await o.store.putRun(runId, "cai-revise", config);
  await o.store.enqueue(runId, items);

  const steps = await RecordSteps.open(o.store, runId);
  const result = await runWorkItems({
    ...workControl(o, c),
    store: o.store,
    runId,
    process: (item) => reviseItem(item, steps, { policy: o.policy, critic }, settings),
  });

  const finished = await doneKeys(o.store, runId);
  const records = await o.store.records(runId);
  const all = transcripts(records).filter((t) => finished.has(t.key));
  const sft = sftRows(all, {
    mode: settings.mode,
    seed: settings.seed,
    ...(c.helpfulRatio !== undefined ? { helpfulRatio: c.helpfulRatio } : {}),
  });
  const prefs = preferenceRows(all, { mode: settings.mode });
  const sftPath = resolve(o.outDir, "sft.jsonl");
  const prefPath = resolve(o.outDir, "preferences.jsonl");
  writeOutput(sftPath, sft);
  writeOutput(prefPath, prefs);
  const redTeam = all.filter((t) => t.set === "red-team");
  const summary: ReviseSummary = {
    ...baseSummary(runId, started, badRows, steps.tally, [o.policy, critic]),
    items: await o.store.counts(runId),
    processedNow: result.processed,
    leftPending: result.leftPending,
    errors: result.errors,
    prompts: items.length,
    revisedShare: redTeam.length === 0 ? 0 : redTeam.filter((t) => t.final !== t.initial).length / redTeam.length,
    meanRevisions: redTeam.length === 0 ? 0 : redTeam.reduce((s, t) => s + t.revisions, 0) / redTeam.length,
    sft: { path: sftPath, rows: sft.length },
    preferences: { path: prefPath, rows: prefs.length },
    gates: reviseGates(records, finished, prefs),
  };
  writeFileSync(resolve(o.outDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  enforceGates("cai revise", summary.gates, o.strict ?? false);
  return summary;
}

// ---------------------------------------------------------------- label

export type LabelOptions = RunControl & {
  store: Store;
  constitution: LoadedConstitution;
  /** Generates the k responses per prompt (not needed when every row brings `responses`). */
  policy?: Provider;
  feedback: Provider;
  /** A second model whose response joins each prompt's k responses (pairs then span both models' behaviour). */
  contrast?: Provider;
  prompts: string;
  limit?: number;
  runId?: string;
  /** The preference JSONL with soft labels. */
  out: string;
} & Partial<LabelConfig>;

export type LabelSummary = Summary & ReturnType<typeof labelStats> & { method: LabelMethod; out: string; prompts: number };

export async function runLabel(o: LabelOptions): Promise<LabelSummary> {
  const started = Date.now();
  const c = parsePipelineConfig(labelConfigSchema, o, "cai label");
  const { rows, errors: badRows } = await readPromptFile(o.prompts, o.limit);
  if (c.responses + (o.contrast ? 1 : 0) < 2)
    throw new Error("label: each prompt needs at least two responses (--responses, or a contrast model)");
  if (!o.policy && rows.some((r) => !r.responses))
    throw new Error(`${o.prompts}: rows without "responses" need a policy to generate them (--policy)`);
  const mode = c.mode;
  const config = {
    prompts: resolve(o.prompts),
    constitution: o.constitution.hash,
    policy: o.policy?.id ?? null,
    feedback: o.feedback.id,
    contrast: o.contrast?.id ?? null,
    format: FORMAT_VERSION,
    // The same keys as before configs.ts, so a run's default id stays the same.
    settings: {
      seed: c.seed,
      mode,
      responses: c.responses,
      principles: c.principles ?? o.constitution.sampling.principles_per_comparison,
      chainOfThought: c.chainOfThought,
      clamp: c.clamp,
      samples: c.samples,
      maxTokens: c.maxTokens,
      temperature: c.temperature,
      reasoningTokens: c.reasoningTokens,
    },
  };
  const runId = o.runId ?? defaultRunId("label", config);
  // Chat mode has no prompt log-probs; otherwise ask the provider once. The run's config records the method.
  const method: LabelMethod = mode === "chat" ? "sampling" : await labelMethodFor(o.feedback);
  const settings = { constitution: o.constitution, ...config.settings, method };
  await o.store.putConstitution(o.constitution.hash, o.constitution.name, o.constitution.version, o.constitution);
  await o.store.putRun(runId, "cai-label", { ...config, label_method: method });
  await o.store.enqueue(
    runId,
    rows.map((row) => ({
      key: promptKey("label", row.responses ? `${row.prompt}\u0000${row.responses.join("\u0000")}` : row.prompt),
      kind: "label",
      payload: { prompt: row.prompt, ...(row.responses ? { responses: row.responses } : {}), source: row.source } satisfies LabelPayload,
    })),
  );

  const steps = await RecordSteps.open(o.store, runId);
  const policy = o.policy ?? o.feedback;
  const result = await runWorkItems({
    ...workControl(o, c),
    store: o.store,
    runId,
    process: (item) => labelItem(item, steps, { policy, feedback: o.feedback, ...(o.contrast ? { contrast: o.contrast } : {}) }, settings),
  });

  const finished = await doneKeys(o.store, runId);
  const records = await o.store.records(runId);
  const comparisons = records
    .filter((r) => r.kind === "comparison")
    .filter((r) => finished.has(r.key.slice(0, r.key.indexOf("/"))))
    .sort((a, b) => (a.key < b.key ? -1 : 1))
    .map(
      (r) => r.data as { prompt: unknown; chosen: unknown; rejected: unknown; label: number; orders: { first: number; swapped: number }[] },
    );
  writeOutput(
    o.out,
    comparisons.map(({ prompt, chosen, rejected, label }) => ({ prompt, chosen, rejected, label })),
  );
  const stats = labelStats(comparisons);
  const summary: LabelSummary = {
    ...baseSummary(runId, started, badRows, steps.tally, [policy, o.feedback, ...(o.contrast ? [o.contrast] : [])]),
    items: await o.store.counts(runId),
    processedNow: result.processed,
    leftPending: result.leftPending,
    errors: result.errors,
    prompts: rows.length,
    method,
    out: resolve(o.out),
    ...stats,
    gates: labelGates(records, finished, comparisons, stats),
  };
  writeFileSync(`${o.out.replace(/\.jsonl$/, "")}.summary.json`, `${JSON.stringify(summary, null, 2)}\n`);
  enforceGates("cai label", summary.gates, o.strict ?? false);
  return summary;
}
