/** Gates on generated responses: empty or near-empty ones, and duplicates. */
import { type GateResult, percent, WEAK_MODEL_ADVICE } from "./gate.js";

/** Fewer visible characters than this (after trimming) counts as near-empty. */
export const NEAR_EMPTY_CHARS = 3;

export function isNearEmpty(text: string, minChars = NEAR_EMPTY_CHARS): boolean {
  return text.trim().length < minChars;
}

/** Fails when more than `maxShare` (default 10%) of the responses are empty or near-empty. */
export function emptyResponsesGate(
  texts: readonly string[],
  { maxShare = 0.1, minChars = NEAR_EMPTY_CHARS, what = "responses" }: { maxShare?: number; minChars?: number; what?: string } = {},
): GateResult {
  const empty = texts.filter((t) => isNearEmpty(t, minChars)).length;
  const share = texts.length === 0 ? 0 : empty / texts.length;
  return {
    gate: "empty-responses",
    ok: share <= maxShare,
    value: share,
    threshold: maxShare,
    n: texts.length,
    finding: `${empty} of ${texts.length} ${what} are empty or near-empty (${percent(share)}; threshold ${percent(maxShare)})`,
    advice:
      "The model gave no answer, so critiques, revisions and preference pairs built on these teach only that any text beats none. " +
      `${WEAK_MODEL_ADVICE}; more --max-tokens if replies stop at once`,
  };
}

/**
 * Fails when more than `maxShare` (default 20%) of the non-empty responses repeat an earlier one (trimmed, case-insensitive);
 * with `groups` (one per text, e.g. the prompt), only repeats within a group count.
 */
export function duplicateResponsesGate(
  texts: readonly string[],
  { maxShare = 0.2, what = "responses", groups }: { maxShare?: number; what?: string; groups?: readonly string[] } = {},
): GateResult {
  const seen = new Set<string>();
  let duplicates = 0;
  let counted = 0;
  for (const [i, text] of texts.entries()) {
    const key = text.trim().toLowerCase();
    if (key.length === 0) continue;
    counted++;
    const scoped = `${groups?.[i] ?? ""}\u0000${key}`;
    if (seen.has(scoped)) duplicates++;
    else seen.add(scoped);
  }
  const share = counted === 0 ? 0 : duplicates / counted;
  return {
    gate: "duplicate-responses",
    ok: share <= maxShare,
    value: share,
    threshold: maxShare,
    n: counted,
    finding: `${duplicates} of ${counted} non-empty ${what} repeat another one${groups ? " of the same prompt" : ""} word for word (${percent(share)}; threshold ${percent(maxShare)})`,
    advice:
      "The model answers different prompts (or samples) the same way, so its outputs say little about the prompts. " +
      `${WEAK_MODEL_ADVICE}; a higher --temperature gives more varied samples`,
  };
}
