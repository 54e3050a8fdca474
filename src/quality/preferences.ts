/** The gate on preference rows: pairs with an empty side or two identical sides. */
import { type GateResult, percent, WEAK_MODEL_ADVICE } from "./gate.js";
import { isNearEmpty } from "./responses.js";

/** A TRL field as text: a string, or the contents of a message list. */
export function fieldText(field: unknown): string {
  if (typeof field === "string") return field;
  if (Array.isArray(field)) return field.map((m) => String((m as { content?: unknown }).content ?? "")).join("\n");
  return "";
}

/** Fails when more than `maxShare` (default 10%) of the pairs have an empty or near-empty side, or the same text on both sides. */
export function preferencePairsGate(
  rows: readonly { chosen: unknown; rejected: unknown }[],
  { maxShare = 0.1 }: { maxShare?: number } = {},
): GateResult {
  let emptySide = 0;
  let identical = 0;
  for (const row of rows) {
    const chosen = fieldText(row.chosen);
    const rejected = fieldText(row.rejected);
    if (isNearEmpty(chosen) || isNearEmpty(rejected)) emptySide++;
    else if (chosen.trim() === rejected.trim()) identical++;
  }
  const bad = emptySide + identical;
  const share = rows.length === 0 ? 0 : bad / rows.length;
  return {
    gate: "degenerate-pairs",
    ok: share <= maxShare,
    value: share,
    threshold: maxShare,
    n: rows.length,
    finding: `${bad} of ${rows.length} preference pairs have an empty side (${emptySide}) or identical sides (${identical}) (${percent(share)}; threshold ${percent(maxShare)})`,
    advice:
      'A reward model or DPO trained on them learns "any text beats nothing" (or nothing at all), not the constitution. ' +
      WEAK_MODEL_ADVICE,
  };
}
