/** Gates on AI-feedback labels: confidence near a coin flip, and answers that follow the order shown. */
import { type GateResult, percent } from "./gate.js";

const FEEDBACK_ADVICE =
  "Try a stronger feedback model (`--feedback openai:MODEL` on an OpenAI-compatible server), more principles per comparison (--principles), " +
  "or check that the model understands the (A)/(B) question (few-shot examples in the constitution)";

/** Fails when the mean confidence max(p, 1 − p) is below `minConfidence` (default 0.55): the labels are close to 0.5. */
export function labelConfidenceGate(
  meanConfidence: number,
  pairs: number,
  { minConfidence = 0.55 }: { minConfidence?: number } = {},
): GateResult {
  return {
    gate: "label-confidence",
    ok: pairs === 0 || meanConfidence >= minConfidence,
    value: meanConfidence,
    threshold: minConfidence,
    n: pairs,
    finding: `mean label confidence is ${meanConfidence.toFixed(3)} over ${pairs} pairs (threshold ${minConfidence}; 0.5 is a coin flip)`,
    advice: `Labels this close to 0.5 carry almost no preference, and a reward model trained on them learns noise. ${FEEDBACK_ADVICE}`,
  };
}

/** Fails when more than `maxRate` (default 30%) of the judgements change winner when the two responses swap places. */
export function positionBiasGate(positionBiasRate: number, judgements: number, { maxRate = 0.3 }: { maxRate?: number } = {}): GateResult {
  return {
    gate: "position-bias",
    ok: judgements === 0 || positionBiasRate <= maxRate,
    value: positionBiasRate,
    threshold: maxRate,
    n: judgements,
    finding: `${percent(positionBiasRate)} of ${judgements} judgements picked a different response once the order was swapped (threshold ${percent(maxRate)}; a coin flip gives 50%)`,
    advice: `The feedback model answers by position, not by content; its labels are mostly noise. ${FEEDBACK_ADVICE}`,
  };
}
