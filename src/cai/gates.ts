/**
 * The quality gates of the CAI pipelines, computed from the run's stored
 * records (finished items only), so a resumed run judges the same data as an
 * uninterrupted one.
 */
import {
  critiquesOfEmptyGate,
  duplicateResponsesGate,
  emptyResponsesGate,
  type GateResult,
  identicalRevisionsGate,
  labelConfidenceGate,
  positionBiasGate,
  preferencePairsGate,
} from "../quality/index.js";
import type { StoredRecord } from "../store/store.js";
import type { LabelStats } from "./label.js";

const itemKey = (recordKey: string) => recordKey.slice(0, recordKey.indexOf("/"));

/** Gates of `cai revise`: first responses (empty, duplicated), critiques of empty responses, unchanged revisions, the preference pairs written. */
export function reviseGates(
  records: StoredRecord[],
  finished: Set<string>,
  preferences: { chosen: unknown; rejected: unknown }[],
): GateResult[] {
  const mine = records.filter((r) => r.key.includes("/") && finished.has(itemKey(r.key)));
  const first = mine.filter((r) => r.kind === "generation").map((r) => (r.data as { completion: string }).completion);
  const critiques = mine.filter((r) => r.kind === "critique").map((r) => r.data as { response: string; critique: string });
  const revisions = mine.filter((r) => r.kind === "revision").map((r) => r.data as { response: string; revision: string });
  return [
    emptyResponsesGate(first, { what: "first responses" }),
    duplicateResponsesGate(first, { what: "first responses" }),
    critiquesOfEmptyGate(critiques),
    identicalRevisionsGate(revisions),
    preferencePairsGate(preferences),
  ];
}

/** Gates of `cai label`: the responses compared (empty, the same twice for one prompt), the pairs written, label confidence and position bias. */
export function labelGates(
  records: StoredRecord[],
  finished: Set<string>,
  comparisons: { chosen: unknown; rejected: unknown }[],
  stats: LabelStats,
): GateResult[] {
  const generations = records.filter((r) => r.kind === "generation" && r.key.includes("/") && finished.has(itemKey(r.key)));
  const responses = generations.map((r) => (r.data as { completion: string }).completion);
  // Two prompts may well share a response; two responses to one prompt that are the same make no pair.
  const groups = generations.map((r) => itemKey(r.key));
  return [
    emptyResponsesGate(responses, { what: "responses compared" }),
    duplicateResponsesGate(responses, { what: "responses compared", groups }),
    preferencePairsGate(comparisons),
    labelConfidenceGate(stats.meanConfidence, stats.pairs),
    positionBiasGate(stats.positionBiasRate, stats.judgements),
  ];
}
