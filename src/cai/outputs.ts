/**
 * Datasets from a supervised-CAI run's records, in TRL's JSONL conventions:
 * - SFT (`{"prompt","completion"}`): each red-team prompt with its final
 *   revision, mixed with helpfulness samples (prompt + first response) at a
 *   set ratio;
 * - preferences (`{"prompt","chosen","rejected"}`): the final revision over
 *   the first response, where a revision changed it.
 * Built from the store, not from process memory, so an interrupted and
 * resumed run gives the same files as an uninterrupted one.
 */
import type { StoredRecord } from "../store/store.js";
import { responsePrompt } from "./format.js";
import { hashUniform } from "./sample.js";

export type Transcript = {
  key: string;
  set: "red-team" | "helpful";
  prompt: string;
  initial: string;
  final: string;
  revisions: number;
};

/** One transcript per prompt whose first response is stored (prompts still in progress have partial rounds). */
export function transcripts(records: StoredRecord[]): Transcript[] {
  const byKey = new Map(records.map((r) => [`${r.kind}\u0000${r.key}`, r]));
  const revisionsOf = new Map<string, { round: number; text: string }[]>();
  for (const r of records) {
    if (r.kind !== "revision") continue;
    const key = r.key.slice(0, r.key.indexOf("/"));
    const data = r.data as { round: number; revision: string };
    if (data.revision.length === 0) continue;
    const list = revisionsOf.get(key) ?? [];
    list.push({ round: data.round, text: data.revision });
    revisionsOf.set(key, list);
  }
  const out: Transcript[] = [];
  for (const r of records) {
    if (r.kind !== "prompt") continue;
    const first = byKey.get(`generation\u0000${r.key}/initial`);
    if (!first) continue;
    const { prompt, set } = r.data as { prompt: string; set: Transcript["set"] };
    const initial = (first.data as { completion: string }).completion;
    const revisions = (revisionsOf.get(r.key) ?? []).sort((a, b) => a.round - b.round);
    out.push({ key: r.key, set, prompt, initial, final: revisions.at(-1)?.text ?? initial, revisions: revisions.length });
  }
  return out;
}

export type Mode = "completion" | "chat";

/** A prompt as TRL's `prompt` field: the transcript stem for completion models, a user message for chat models. */
export function promptField(prompt: string, mode: Mode) {
  return mode === "chat" ? [{ role: "user", content: prompt }] : responsePrompt(prompt);
}
/** A response as TRL's `completion`/`chosen`/`rejected` field, matching `promptField`. */
export function completionField(text: string, mode: Mode) {
  return mode === "chat" ? [{ role: "assistant", content: text }] : ` ${text}`;
}

/**
 * SFT rows: every finished red-team transcript's final response, plus
 * helpfulness samples: `helpfulRatio` of them per red-team row (all of them
 * when undefined), chosen by a seeded hash so the choice is stable.
 */
export function sftRows(all: Transcript[], options: { mode: Mode; helpfulRatio?: number; seed?: number; finishedKeys?: Set<string> }) {
  const finished = options.finishedKeys ? all.filter((t) => options.finishedKeys?.has(t.key)) : all;
  const redTeam = finished.filter((t) => t.set === "red-team");
  let helpful = finished.filter((t) => t.set === "helpful");
  if (options.helpfulRatio !== undefined) {
    const want = Math.round(options.helpfulRatio * redTeam.length);
    helpful = helpful
      .map((t) => ({ t, u: hashUniform("mix", options.seed ?? 0, t.key) }))
      .sort((a, b) => a.u - b.u)
      .slice(0, want)
      .map(({ t }) => t);
  }
  // An empty response (a model that produced no answer) teaches nothing but silence.
  const rows = [...redTeam.map((t) => ({ t, text: t.final })), ...helpful.map((t) => ({ t, text: t.initial }))].filter(
    (r) => r.text.length > 0,
  );
  return rows
    .sort((a, b) => (a.t.key < b.t.key ? -1 : 1))
    .map(({ t, text }) => ({ prompt: promptField(t.prompt, options.mode), completion: completionField(text, options.mode) }));
}

/** Preference rows: the final revision chosen over the first response, where they differ. */
export function preferenceRows(all: Transcript[], options: { mode: Mode; finishedKeys?: Set<string> }) {
  return all
    .filter(
      (t) =>
        t.set === "red-team" && t.final !== t.initial && t.final.length > 0 && (!options.finishedKeys || options.finishedKeys.has(t.key)),
    )
    .sort((a, b) => (a.key < b.key ? -1 : 1))
    .map((t) => ({
      prompt: promptField(t.prompt, options.mode),
      chosen: completionField(t.final, options.mode),
      rejected: completionField(t.initial, options.mode),
    }));
}
