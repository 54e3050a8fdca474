/**
 * The gate on a reward model's or DPO run's held-out preference accuracy:
 * it fails when the accuracy is within noise of chance (0.5), i.e. the 95%
 * Wilson interval's lower end is not above 0.5. With no eval file, a split of
 * the training pairs is held out (`holdOut`), so the check always has data.
 */
import { type GateResult, WEAK_MODEL_ADVICE } from "./gate.js";

/** The lower end of the Wilson score interval for `correct` of `n` (z = 1.96: 95%). */
export function wilsonLower(correct: number, n: number, z = 1.96): number {
  if (n === 0) return 0;
  const p = correct / n;
  const z2 = z * z;
  return (p + z2 / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
}

export function chanceAccuracyGate(
  accuracy: number,
  pairs: number,
  { trainer = "reward model", source = "held-out pairs", z = 1.96 }: { trainer?: string; source?: string; z?: number } = {},
): GateResult {
  const lower = wilsonLower(Math.round(accuracy * pairs), pairs, z);
  return {
    gate: "chance-accuracy",
    ok: lower > 0.5,
    value: accuracy,
    threshold: 0.5,
    n: pairs,
    finding:
      pairs === 0
        ? `the ${trainer} has no held-out pairs to be checked on`
        : `the ${trainer}'s accuracy on ${pairs} ${source} is ${accuracy.toFixed(3)}, ${lower > 0.5 ? "above" : "within noise of"} chance (95% interval from ${lower.toFixed(3)}${lower > 0.5 ? "" : ", not above 0.5"})`,
    advice:
      pairs < 30
        ? `${pairs} pairs are too few to tell a trained model from a coin: give an eval_file or more data (eval_split holds out a share of train_file). ${WEAK_MODEL_ADVICE}`
        : `It has not learned to tell chosen from rejected: check the preference data (empty or identical sides, labels near 0.5), train longer, or try another base model. ${WEAK_MODEL_ADVICE}`,
  };
}

/**
 * Splits `rows` into train and held-out parts: every row whose seeded hash
 * falls below `fraction` is held out (at least one when there are two rows or
 * more), so the split is stable when rows are added.
 */
export function holdOut<T>(rows: readonly T[], fraction: number, seed: number): { train: T[]; heldOut: T[] } {
  if (fraction <= 0 || rows.length < 2) return { train: [...rows], heldOut: [] };
  const ranked = rows.map((row, i) => ({ row, i, u: unitHash(seed, i) })).sort((a, b) => a.u - b.u);
  const count = Math.min(rows.length - 1, Math.max(1, Math.round(fraction * rows.length)));
  const held = new Set(ranked.slice(0, count).map((r) => r.i));
  return { train: rows.filter((_, i) => !held.has(i)), heldOut: rows.filter((_, i) => held.has(i)) };
}

function unitHash(seed: number, i: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}
