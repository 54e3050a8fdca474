/** The gate on PPO's KL to the reference: a blow-up (above a bound, or not finite). */
import type { GateResult } from "./gate.js";

/** Fails when `objective/kl` is not finite or goes above `maxKl` nats per response (default 25) at any logged step. */
export function klBlowupGate(
  history: readonly Record<string, number>[],
  { maxKl = 25, metric = "objective/kl" }: { maxKl?: number; metric?: string } = {},
): GateResult {
  const values = history.map((h) => h[metric]).filter((v): v is number => v !== undefined);
  const worstIndex = values.reduce((w, v, i) => (!Number.isFinite(v) || v > (values[w] as number) ? i : w), 0);
  const worst = values[worstIndex] ?? 0;
  const step = history.filter((h) => h[metric] !== undefined)[worstIndex]?.step;
  const finite = Number.isFinite(worst);
  return {
    gate: "kl-blowup",
    ok: values.length === 0 || (finite && worst <= maxKl),
    value: finite ? worst : Number.NaN,
    threshold: maxKl,
    n: values.length,
    finding: finite
      ? `${metric} reached ${worst.toFixed(2)} nats${step !== undefined ? ` at step ${step}` : ""} (threshold ${maxKl})`
      : `${metric} became ${worst}${step !== undefined ? ` at step ${step}` : ""}`,
    advice:
      "The policy moved far from the reference: it is probably exploiting the reward model (reward hacking) rather than following the constitution. " +
      "Raise kl_coef (or use adaptive_kl), lower the learning rate, or train fewer steps; check the samples in the report",
  };
}
