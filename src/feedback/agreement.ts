/**
 * Chance-corrected agreement between annotators on nominal judgements.
 * A judgement is any primitive value (for preferences: which of two
 * responses is better); `null` means the annotator gave none for that unit.
 * Pure functions, no I/O.
 */
export type Judgement = string | number | boolean;
export type Maybe = Judgement | null | undefined;

export type Kappa = {
  /** Cohen's κ; null when undefined (no shared units, or chance agreement is already 1). */
  kappa: number | null;
  /** Units both annotators judged. */
  n: number;
  /** Observed agreement p_o. */
  observed: number;
  /** Agreement expected by chance from each annotator's own category rates, p_e. */
  expected: number;
};

/** Cohen's κ = (p_o − p_e) / (1 − p_e) for two annotators, over the units both judged. */
export function cohensKappa(a: readonly Maybe[], b: readonly Maybe[]): Kappa {
  if (a.length !== b.length) throw new Error(`cohensKappa: ${a.length} vs ${b.length} units`);
  const countsA = new Map<Judgement, number>();
  const countsB = new Map<Judgement, number>();
  let n = 0;
  let agree = 0;
  for (let u = 0; u < a.length; u++) {
    const x = a[u];
    const y = b[u];
    if (x === null || x === undefined || y === null || y === undefined) continue;
    n++;
    if (x === y) agree++;
    countsA.set(x, (countsA.get(x) ?? 0) + 1);
    countsB.set(y, (countsB.get(y) ?? 0) + 1);
  }
  if (n === 0) return { kappa: null, n, observed: Number.NaN, expected: Number.NaN };
  let expected = 0;
  for (const [category, count] of countsA) expected += (count / n) * ((countsB.get(category) ?? 0) / n);
  const observed = agree / n;
  return { kappa: expected >= 1 ? null : (observed - expected) / (1 - expected), n, observed, expected };
}

export type Alpha = {
  /** Krippendorff's α (nominal); null when undefined (fewer than two pairable values, or a single category overall). */
  alpha: number | null;
  /** Pairable values: values in units that at least two annotators judged. */
  n: number;
};

/**
 * Krippendorff's α for nominal data, any number of annotators, missing
 * values allowed: `units[u][c]` is annotator c's value for unit u. Built from
 * the coincidence matrix (Krippendorff 2011, "Computing Krippendorff's
 * Alpha-Reliability"): each unit with m ≥ 2 values adds 1/(m − 1) for every
 * ordered pair of its values; α = 1 − (n − 1)·Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k.
 */
export function krippendorffAlpha(units: readonly (readonly Maybe[])[]): Alpha {
  let disagreeing = 0;
  const totals = new Map<Judgement, number>();
  let n = 0;
  for (const unit of units) {
    const values = unit.filter((v): v is Judgement => v !== null && v !== undefined);
    const m = values.length;
    if (m < 2) continue;
    n += m;
    for (const v of values) totals.set(v, (totals.get(v) ?? 0) + 1);
    // Ordered pairs of different values within the unit, weighted 1/(m − 1).
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (i !== j && values[i] !== values[j]) disagreeing += 1 / (m - 1);
  }
  if (n < 2) return { alpha: null, n };
  let sumSquares = 0;
  for (const count of totals.values()) sumSquares += count * count;
  // Σ_{c≠k} n_c·n_k = n² − Σ n_c².
  const expectedPairs = n * n - sumSquares;
  if (expectedPairs === 0) return { alpha: null, n };
  return { alpha: 1 - ((n - 1) * disagreeing) / expectedPairs, n };
}
