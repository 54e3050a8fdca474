/**
 * One label from several principles' verdicts on a pair, with priorities and
 * hard constraints (src/constitution/schema.ts):
 * 1. a hard constraint's confident verdict decides (several: those of the
 *    highest tier among them, averaged);
 * 2. otherwise, when tiers disagree (one tier's mean prefers the first
 *    response, another's the second), the highest tier whose verdict is
 *    confident decides, or, when none is, the highest tier with a preference;
 * 3. otherwise the verdicts are averaged, as without priorities.
 * Tier 1 is the highest; a principle without a priority ranks below every
 * tier. Confident: max(q, 1 − q) ≥ the threshold, with q before any
 * chain-of-thought clamping (clamped to 0.4–0.6, no verdict would count).
 */

export type Verdict = {
  principle: string;
  /** P(first response better), as used for the label. */
  p: number;
  /** The same before clamping (defaults to p). */
  raw?: number;
  priority?: number;
  hard?: boolean;
};

export type Resolution = {
  p: number;
  /** What decided: the plain mean, a hard constraint, or a tier in a conflict. */
  by: "mean" | "hard" | "tier";
  /** The principles whose verdicts made the label (each once). */
  principles: string[];
};

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sureness = (q: number) => Math.max(q, 1 - q);
const tierOf = (v: Verdict) => v.priority ?? Number.POSITIVE_INFINITY;

export function resolveVerdicts(verdicts: readonly Verdict[], threshold: number): Resolution {
  if (verdicts.length === 0) throw new Error("resolveVerdicts: no verdicts");
  const decide = (vs: readonly Verdict[], by: Resolution["by"]): Resolution => ({
    p: mean(vs.map((v) => v.p)),
    by,
    principles: [...new Set(vs.map((v) => v.principle))],
  });

  const confidentHard = verdicts.filter((v) => v.hard && sureness(v.raw ?? v.p) >= threshold);
  if (confidentHard.length > 0) {
    const top = Math.min(...confidentHard.map(tierOf));
    return decide(
      confidentHard.filter((v) => tierOf(v) === top),
      "hard",
    );
  }

  const tiers = [...new Set(verdicts.map(tierOf))].sort((a, b) => a - b).map((t) => verdicts.filter((v) => tierOf(v) === t));
  const means = tiers.map((vs) => ({ vs, p: mean(vs.map((v) => v.p)), raw: mean(vs.map((v) => v.raw ?? v.p)) }));
  const conflict = means.some((m) => m.p > 0.5) && means.some((m) => m.p < 0.5);
  if (!conflict) return decide(verdicts, "mean");
  const winner = means.find((m) => sureness(m.raw) >= threshold) ?? (means.find((m) => m.p !== 0.5) as (typeof means)[number]);
  return decide(winner.vs, "tier");
}
