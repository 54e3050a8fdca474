/** Gates on critique → revision transcripts: revisions that change nothing, critiques of empty responses. */
import { type GateResult, percent, WEAK_MODEL_ADVICE } from "./gate.js";
import { isNearEmpty } from "./responses.js";

/** Fails when more than `maxShare` (default 50%) of the revisions repeat the response they revise. */
export function identicalRevisionsGate(
  revisions: readonly { response: string; revision: string }[],
  { maxShare = 0.5 }: { maxShare?: number } = {},
): GateResult {
  const same = revisions.filter((r) => r.revision.trim() === r.response.trim()).length;
  const share = revisions.length === 0 ? 0 : same / revisions.length;
  return {
    gate: "identical-revisions",
    ok: share <= maxShare,
    value: share,
    threshold: maxShare,
    n: revisions.length,
    finding: `${same} of ${revisions.length} revisions are identical to the response they revise (${percent(share)}; threshold ${percent(maxShare)})`,
    advice: `The reviser copies instead of revising, so the SFT data is the policy's own text. ${WEAK_MODEL_ADVICE}`,
  };
}

/** Fails when any critique (default: more than 0%) was written about an empty or near-empty response. */
export function critiquesOfEmptyGate(
  critiques: readonly { response: string; critique: string }[],
  { maxShare = 0 }: { maxShare?: number } = {},
): GateResult {
  const blind = critiques.filter((c) => isNearEmpty(c.response) && !isNearEmpty(c.critique)).length;
  const share = critiques.length === 0 ? 0 : blind / critiques.length;
  return {
    gate: "critiques-of-empty",
    ok: share <= maxShare,
    value: share,
    threshold: maxShare,
    n: critiques.length,
    finding: `${blind} of ${critiques.length} critiques describe an empty response (${percent(share)}; threshold ${percent(maxShare)})`,
    advice: `A critique of nothing is made up (it describes text that does not exist), and so is the revision it asks for. ${WEAK_MODEL_ADVICE}`,
  };
}
