/**
 * The losses of the alignment trainers, as pure functions over jax-js arrays.
 *
 * Every function consumes its array arguments (jax-js ownership; pass `x.ref`
 * to keep one) and returns `{ loss, metrics }`: a 0-d loss and 0-d metrics
 * named as TRL logs them, so `metrics.jsonl` reads like a TRL run. They do no
 * host reads, so they run under `grad`/`valueAndGrad` (metrics as the aux
 * output, `{ hasAux: true }`) and `jit`. Shapes are checked when traced.
 *
 * Masks: a mask has the shape of the per-token values it masks and is either
 * bool (true = real token) or float 0/1 (any non-zero = real token). Masked-out
 * positions are replaced by neutral values *before* any arithmetic (log-ratio
 * 0, advantage 0, value = return = 0), so whatever padding holds (garbage,
 * ±Inf, NaN) changes neither the loss nor its gradient, which is exactly 0
 * there. A mean over a mask with no real token divides by 1, not 0 (loss 0).
 *
 * Averaging:
 * - `bradleyTerryLoss`, `dpoLoss`: mean over the B pairs.
 * - `sftLoss`, `ppoPolicyLoss`, `ppoValueLoss`: mean over all real tokens of
 *   the batch (TRL's `masked_mean`).
 * - `grpoLoss`: by `lossType` (TRL's `grpo`, `bnpo`, `dr_grpo`, `dapo`), see there.
 * - `ktoLoss`: mean over the B examples, desirable and undesirable together.
 * - `orpoLoss`, `cpoLoss`: mean over the B pairs, plus the caller's NLL.
 */
import { type Array as JaxArray, lax, nn, numpy as np } from "../engine/jax.js";

/** What every loss returns: a 0-d loss and 0-d metrics with TRL's names. */
export type LossOutput = { loss: JaxArray; metrics: Record<string, JaxArray> };

/** Per-token estimators of KL(π ‖ π_ref) from sampled tokens (Schulman, "Approximating KL divergence"). */
export type KLEstimator = "k1" | "k3";

function checkShapes(where: string, named: Record<string, JaxArray | undefined>): void {
  let first: [string, number[]] | null = null;
  for (const [name, x] of Object.entries(named)) {
    if (!x) continue;
    if (!first) first = [name, x.shape];
    else if (x.shape.length !== first[1].length || x.shape.some((d, i) => d !== first?.[1][i])) {
      throw new Error(`${where}: ${name} has shape [${x.shape.join(", ")}] but ${first[0]} has [${first[1].join(", ")}]`);
    }
  }
}

/** A bool keep-mask from a bool or float 0/1 mask (consumes it). */
function keepMask(mask: JaxArray): JaxArray {
  return mask.dtype === np.bool ? mask : np.notEqual(mask, 0);
}

/** Number of true entries of `keep` (consumed) as a `dtype` scalar, at least 1. */
function countAtLeastOne(keep: JaxArray, dtype: JaxArray["dtype"], axis?: number): JaxArray {
  const weights = keep.astype(dtype);
  return np.maximum(axis === undefined ? weights.sum() : weights.sum(axis), 1);
}

/** sum(x where keep) / count; consumes all three. */
function maskedMean(x: JaxArray, keep: JaxArray, count: JaxArray): JaxArray {
  return np.where(keep, x, 0).sum().div(count);
}

/** Fraction (as `dtype`) of the kept entries where `condition` (bool) holds; consumes all three. */
function maskedFraction(condition: JaxArray, keep: JaxArray, count: JaxArray, dtype: JaxArray["dtype"]): JaxArray {
  return maskedMean(condition.astype(dtype), keep, count);
}

/**
 * log σ(x), finite for every finite x. jax-js' `nn.logSigmoid` computes
 * −log(1 + exp(−x)), which is −Inf once exp(−x) overflows. This takes
 * −log1p(exp(−x)) for x > 0 and x − log1p(exp(x)) otherwise, each branch fed
 * only the inputs it is used for (so its gradient σ(−x) is exact everywhere,
 * 0.5 at x = 0, and never NaN).
 */
export function logSigmoid(x: JaxArray): JaxArray {
  const positive = np.greater(x.ref, 0);
  const xPositive = np.where(positive.ref, x.ref, 0);
  const xRest = np.where(positive.ref, 0, x);
  const forPositive = np.log1p(np.exp(xPositive.neg())).neg();
  const forRest = xRest.ref.sub(np.log1p(np.exp(xRest)));
  return np.where(positive, forPositive, forRest);
}

// ---------------------------------------------------------------------------
// Reward model
// ---------------------------------------------------------------------------

export type BradleyTerryInputs = {
  /** Rewards of the chosen responses, [B]. */
  chosen: JaxArray;
  /** Rewards of the rejected responses, [B]. */
  rejected: JaxArray;
  /** Optional per-pair margin, [B]: Δ = r_c − r_r − margin (TRL's `margin` column). */
  margin?: JaxArray;
  /**
   * Optional soft label, [B]: the probability that `chosen` is the better
   * response (AI feedback, CAI). Loss −[p·log σ(Δ) + (1−p)·log σ(−Δ)]; p = 1
   * is the hard loss.
   */
  label?: JaxArray;
  /** Coefficient of the centering term coef·mean((r_c + r_r)²) (TRL `center_rewards_coefficient`); off when 0 or absent. */
  centerCoef?: number;
};

/**
 * Bradley–Terry reward-model loss, mean over pairs: −log σ(r_c − r_r − margin),
 * or the soft-label cross-entropy when `label` is given, plus the optional
 * centering term. Metrics (TRL `RewardTrainer`): `accuracy` (fraction with
 * r_c > r_r), `margin` (mean r_c − r_r, without the margin input),
 * `mean_reward`, `min_reward`, `max_reward` (over chosen and rejected together).
 */
export function bradleyTerryLoss({ chosen, rejected, margin, label, centerCoef = 0 }: BradleyTerryInputs): LossOutput {
  checkShapes("bradleyTerryLoss", { chosen, rejected, margin, label });
  if (chosen.ndim !== 1) throw new Error(`bradleyTerryLoss: rewards must be [B], got [${chosen.shape.join(", ")}]`);
  const difference = chosen.ref.sub(rejected.ref);
  const delta = margin ? difference.ref.sub(margin) : difference.ref;
  let losses: JaxArray;
  if (label) {
    const chosenBetter = logSigmoid(delta.ref).mul(label.ref);
    const rejectedBetter = logSigmoid(delta.neg()).mul(label.neg().add(1));
    losses = chosenBetter.add(rejectedBetter).neg();
  } else {
    losses = logSigmoid(delta).neg();
  }
  let loss = losses.mean();
  if (centerCoef !== 0) loss = loss.add(np.square(chosen.ref.add(rejected.ref)).mean().mul(centerCoef));
  const dtype = chosen.dtype;
  const all = np.concatenate([chosen.ref, rejected.ref]);
  const metrics = {
    accuracy: np.greater(chosen, rejected).astype(dtype).mean(),
    margin: difference.mean(),
    mean_reward: all.ref.mean(),
    min_reward: all.ref.min(),
    max_reward: all.max(),
  };
  return { loss, metrics };
}

// ---------------------------------------------------------------------------
// DPO family
// ---------------------------------------------------------------------------

export type DpoLossType = "sigmoid" | "robust" | "hinge" | "ipo";

export type DpoInputs = {
  /**
   * Log-probabilities of the chosen completions under the policy, [B]:
   * SUMMED over completion tokens for `sigmoid` (DPO, cDPO); AVERAGED over
   * completion tokens for `ipo` (as TRL does for IPO, so the target margin
   * 1/(2β) is per token).
   */
  policyChosen: JaxArray;
  /** Same for the rejected completions under the policy, [B]. */
  policyRejected: JaxArray;
  /** Chosen completions under the frozen reference model, [B] (summed, or averaged for IPO). */
  refChosen: JaxArray;
  /** Rejected completions under the reference model, [B]. */
  refRejected: JaxArray;
  /** β, the strength of the implicit KL constraint (TRL default 0.1). */
  beta?: number;
  /** `sigmoid` = DPO (cDPO with `labelSmoothing` > 0); `robust` = rDPO; `hinge` = SLiC; `ipo` = IPO. */
  lossType?: DpoLossType;
  /** ε: the probability that a label is flipped (cDPO with sigmoid, rDPO with robust). */
  labelSmoothing?: number;
};

/**
 * DPO losses, mean over pairs, with Δ = (π_c − ref_c) − (π_r − ref_r):
 * - sigmoid: −log σ(βΔ); with label smoothing ε (cDPO): −(1−ε)·log σ(βΔ) − ε·log σ(−βΔ);
 * - robust (rDPO, Chowdhury et al. 2024): [−(1−ε)·log σ(βΔ) + ε·log σ(−βΔ)] / (1 − 2ε);
 * - hinge (SLiC, Zhao et al. 2023): max(0, 1 − βΔ);
 * - ipo: (Δ − 1/(2β))².
 *
 * Metrics (TRL `DPOTrainer`): `rewards/chosen` = mean β·(π_c − ref_c),
 * `rewards/rejected`, `rewards/accuracies` (fraction where the chosen reward
 * is larger), `rewards/margins` (mean difference), `logps/chosen` and
 * `logps/rejected` (mean policy log-probs, as passed in). DPO often lowers
 * `logps/chosen` too while it widens the margin; the metric shows it.
 */
export function dpoLoss({
  policyChosen,
  policyRejected,
  refChosen,
  refRejected,
  beta = 0.1,
  lossType = "sigmoid",
  labelSmoothing = 0,
}: DpoInputs): LossOutput {
  checkShapes("dpoLoss", { policyChosen, policyRejected, refChosen, refRejected });
  if (policyChosen.ndim !== 1) throw new Error(`dpoLoss: log-probs must be [B], got [${policyChosen.shape.join(", ")}]`);
  if (!(beta > 0)) throw new Error(`dpoLoss: beta must be > 0, got ${beta}`);
  if (!(labelSmoothing >= 0 && labelSmoothing < 0.5)) throw new Error(`dpoLoss: labelSmoothing must be in [0, 0.5), got ${labelSmoothing}`);
  if ((lossType === "ipo" || lossType === "hinge") && labelSmoothing !== 0) {
    throw new Error(`dpoLoss: labelSmoothing applies to the sigmoid and robust losses only, not to ${lossType}`);
  }
  const chosenLogratio = policyChosen.ref.sub(refChosen);
  const rejectedLogratio = policyRejected.ref.sub(refRejected);
  const delta = chosenLogratio.ref.sub(rejectedLogratio.ref);
  let losses: JaxArray;
  if (lossType === "ipo") {
    losses = np.square(delta.sub(1 / (2 * beta)));
  } else if (lossType === "sigmoid") {
    const scaled = delta.mul(beta);
    if (labelSmoothing === 0) {
      losses = logSigmoid(scaled).neg();
    } else {
      const right = logSigmoid(scaled.ref).mul(1 - labelSmoothing);
      const flipped = logSigmoid(scaled.neg()).mul(labelSmoothing);
      losses = right.add(flipped).neg();
    }
  } else if (lossType === "robust") {
    const scaled = delta.mul(beta);
    const right = logSigmoid(scaled.ref).mul(-(1 - labelSmoothing));
    const flipped = logSigmoid(scaled.neg()).mul(labelSmoothing);
    losses = right.add(flipped).div(1 - 2 * labelSmoothing);
  } else if (lossType === "hinge") {
    losses = nn.relu(delta.mul(-beta).add(1));
  } else {
    throw new Error(`dpoLoss: unknown lossType "${String(lossType)}" (sigmoid | robust | hinge | ipo)`);
  }
  const dtype = policyChosen.dtype;
  const chosenRewards = chosenLogratio.mul(beta);
  const rejectedRewards = rejectedLogratio.mul(beta);
  const metrics = {
    "rewards/chosen": chosenRewards.ref.mean(),
    "rewards/rejected": rejectedRewards.ref.mean(),
    "rewards/accuracies": np.greater(chosenRewards.ref, rejectedRewards.ref).astype(dtype).mean(),
    "rewards/margins": chosenRewards.sub(rejectedRewards).mean(),
    "logps/chosen": policyChosen.mean(),
    "logps/rejected": policyRejected.mean(),
  };
  return { loss: losses.mean(), metrics };
}

// ---------------------------------------------------------------------------
// Supervised fine-tuning
// ---------------------------------------------------------------------------

/**
 * Mean negative log-likelihood over the real tokens: −Σ m·log p / Σ m (0 when
 * no token is real). `tokenLogProbs` and `mask` have the same shape, e.g.
 * [B, T] from `tokenLogProbs` of `engine/nn`. No metrics.
 */
export function sftLoss(tokenLogProbs: JaxArray, mask: JaxArray): LossOutput {
  checkShapes("sftLoss", { tokenLogProbs, mask });
  const keep = keepMask(mask);
  const count = countAtLeastOne(keep.ref, tokenLogProbs.dtype);
  return { loss: maskedMean(tokenLogProbs, keep, count).neg(), metrics: {} };
}

// ---------------------------------------------------------------------------
// PPO
// ---------------------------------------------------------------------------

export type PpoPolicyInputs = {
  /** log π(a_t) under the policy being trained, [B, T]. */
  logprobs: JaxArray;
  /** log π_old(a_t) from the rollout, [B, T]. */
  oldLogprobs: JaxArray;
  /** Per-token advantages (usually whitened GAE), [B, T]. */
  advantages: JaxArray;
  /** Real response tokens, [B, T], bool or float 0/1. */
  mask: JaxArray;
  /** ε of the clipped surrogate (TRL `cliprange`, 0.2). */
  clipRange?: number;
};

/**
 * PPO's clipped surrogate: ρ = exp(logp − logp_old), loss = masked mean of
 * max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)) over all real tokens of the batch.
 *
 * Metrics (TRL `PPOTrainer`): `policy/approxkl_avg` = 0.5·mean((logp −
 * logp_old)²), `policy/clipfrac_avg` = fraction of tokens where the clipped
 * term is the larger one (−A·clip(ρ) > −A·ρ), `val/ratio` = mean ρ. All are
 * means over real tokens; TRL averages approxkl and ratio over padding too,
 * where its log-ratio is 0 and ratio 1, which dilutes them by the padding share.
 */
export function ppoPolicyLoss({ logprobs, oldLogprobs, advantages, mask, clipRange = 0.2 }: PpoPolicyInputs): LossOutput {
  checkShapes("ppoPolicyLoss", { logprobs, oldLogprobs, advantages, mask });
  const dtype = logprobs.dtype;
  const keep = keepMask(mask);
  const count = countAtLeastOne(keep.ref, dtype);
  const logRatio = np.where(keep.ref, logprobs.sub(oldLogprobs), 0);
  const ratio = np.exp(logRatio.ref);
  const negAdvantage = np.where(keep.ref, advantages, 0).neg();
  const unclipped = negAdvantage.ref.mul(ratio.ref);
  const clipped = negAdvantage.mul(np.clip(ratio.ref, 1 - clipRange, 1 + clipRange));
  const clippedWins = np.greater(clipped.ref, unclipped.ref);
  const loss = maskedMean(np.maximum(unclipped, clipped), keep.ref, count.ref);
  const metrics = {
    "policy/approxkl_avg": maskedMean(np.square(logRatio), keep.ref, count.ref).mul(0.5),
    "policy/clipfrac_avg": maskedFraction(clippedWins, keep.ref, count.ref, dtype),
    "val/ratio": maskedMean(ratio, keep, count),
  };
  return { loss, metrics };
}

export type PpoValueInputs = {
  /** Value-head predictions of the model being trained, [B, T]. */
  values: JaxArray;
  /** Values from the rollout, [B, T]. */
  oldValues: JaxArray;
  /** Returns (advantages + values, before whitening), [B, T]. */
  returns: JaxArray;
  /** Real response tokens, [B, T], bool or float 0/1. */
  mask: JaxArray;
  /** ε_v: how far a prediction may move from the rollout value before it is clipped (TRL `cliprange_value`, 0.2). */
  clipRangeValue?: number;
};

/**
 * PPO's clipped value loss: 0.5·masked mean of max((v − R)², (clip(v, v_old − ε,
 * v_old + ε) − R)²). Metric `val/clipfrac_avg`: fraction of real tokens where
 * the clipped error is the larger one.
 */
export function ppoValueLoss({ values, oldValues, returns, mask, clipRangeValue = 0.2 }: PpoValueInputs): LossOutput {
  checkShapes("ppoValueLoss", { values, oldValues, returns, mask });
  const dtype = values.dtype;
  const keep = keepMask(mask);
  const count = countAtLeastOne(keep.ref, dtype);
  const v = np.where(keep.ref, values, 0);
  const old = np.where(keep.ref, oldValues, 0);
  const target = np.where(keep.ref, returns, 0);
  const vClipped = np.minimum(np.maximum(v.ref, old.ref.sub(clipRangeValue)), old.add(clipRangeValue));
  const unclippedError = np.square(v.sub(target.ref));
  const clippedError = np.square(vClipped.sub(target));
  const clippedWins = np.greater(clippedError.ref, unclippedError.ref);
  const loss = maskedMean(np.maximum(unclippedError, clippedError), keep.ref, count.ref).mul(0.5);
  return { loss, metrics: { "val/clipfrac_avg": maskedFraction(clippedWins, keep, count, dtype) } };
}

/**
 * Per-token KL(π ‖ π_ref) estimates from the sampled tokens' log-probs
 * (same shapes, result the same shape):
 * - k1 = logp − logp_ref (unbiased, can be negative per token);
 * - k3 = exp(logp_ref − logp) − (logp_ref − logp) − 1 (unbiased, ≥ 0 always).
 * Apply the mask yourself (the values at padding are whatever the inputs give).
 */
export function klPenalty(logprobs: JaxArray, refLogprobs: JaxArray, estimator: KLEstimator = "k1"): JaxArray {
  checkShapes("klPenalty", { logprobs, refLogprobs });
  if (estimator === "k1") return logprobs.sub(refLogprobs);
  if (estimator === "k3") {
    const logRatio = refLogprobs.sub(logprobs);
    return np.exp(logRatio.ref).sub(logRatio).sub(1);
  }
  throw new Error(`klPenalty: unknown estimator "${String(estimator)}" (k1 | k3)`);
}

// ---------------------------------------------------------------------------
// GRPO
// ---------------------------------------------------------------------------

export type GrpoLossType = "grpo" | "bnpo" | "dr_grpo" | "dapo";

export type GrpoInputs = {
  /** log π(a_t) under the policy being trained, [B, T]. */
  logprobs: JaxArray;
  /** log π_old(a_t) from generation, [B, T] (pass `logprobs` values detached, e.g. a copy, when there is one update per generation). */
  oldLogprobs: JaxArray;
  /** log π_ref(a_t), [B, T]; needed when `beta` > 0, reported as `kl` whenever given. */
  refLogprobs?: JaxArray;
  /** One advantage per sequence, [B], broadcast over its tokens. */
  advantages: JaxArray;
  /** Real completion tokens, [B, T], bool or float 0/1. */
  mask: JaxArray;
  /** Per-token entropy of the policy, [B, T]; reported as `entropy` (masked mean) when given. */
  entropy?: JaxArray;
  /** ε_low of the clipped surrogate (TRL `epsilon`, 0.2). */
  clipRange?: number;
  /** ε_high, the upper clip (TRL `epsilon_high`; DAPO's clip-higher uses 0.28). Default: `clipRange`. */
  clipRangeHigh?: number;
  /** Weight of the k3 KL term in the loss (TRL default 0: no reference model needed). */
  beta?: number;
  /** How the token losses are normalised (TRL `loss_type`, default `dapo`). */
  lossType?: GrpoLossType;
  /** dr_grpo's constant: the generation budget L (TRL `max_completion_length`). Default: T. */
  maxCompletionLength?: number;
  /**
   * dapo's normaliser: the number of completion tokens in the whole
   * generation batch (TRL `num_items_in_batch`), when this call sees only
   * part of it. Default: the real tokens of this batch (then dapo = bnpo).
   */
  numItemsInBatch?: number;
};

/**
 * GRPO's loss (TRL `GRPOTrainer`). Per token, with ρ = exp(logp − logp_old):
 *   ℓ_t = −min(ρ·A, clip(ρ, 1−ε_low, 1+ε_high)·A) + β·k3.
 * Normalisation (`lossType`), with m the mask, B sequences, T_i = Σ_t m_i,t:
 * - grpo:    (1/B) Σ_i (Σ_t m·ℓ) / T_i     (per-sequence mean: long answers' tokens weigh less; length bias)
 * - bnpo:    Σ m·ℓ / Σ m                    (mean over this batch's tokens)
 * - dr_grpo: Σ m·ℓ / (B·L), L = maxCompletionLength (Dr. GRPO: a constant, no length bias)
 * - dapo:    Σ m·ℓ / N, N = numItemsInBatch (tokens of the whole generation batch; DAPO's token-level loss)
 * A sequence with no real token counts 0 (its T_i is taken as 1).
 *
 * Metrics (TRL's names, means over all real tokens of the batch):
 * `clip_ratio/low_mean` (ρ < 1−ε_low with A < 0), `clip_ratio/high_mean`
 * (ρ > 1+ε_high with A > 0), `clip_ratio/region_mean` (either); `kl` (mean
 * k3, when `refLogprobs` is given); `entropy` (when `entropy` is given).
 */
export function grpoLoss({
  logprobs,
  oldLogprobs,
  refLogprobs,
  advantages,
  mask,
  entropy,
  clipRange = 0.2,
  clipRangeHigh = clipRange,
  beta = 0,
  lossType = "dapo",
  maxCompletionLength,
  numItemsInBatch,
}: GrpoInputs): LossOutput {
  checkShapes("grpoLoss", { logprobs, oldLogprobs, refLogprobs, mask, entropy });
  if (logprobs.ndim !== 2) throw new Error(`grpoLoss: log-probs must be [B, T], got [${logprobs.shape.join(", ")}]`);
  if (advantages.ndim !== 1 || advantages.shape[0] !== logprobs.shape[0]) {
    throw new Error(`grpoLoss: advantages must be [B] = [${logprobs.shape[0]}], got [${advantages.shape.join(", ")}]`);
  }
  if (beta < 0) throw new Error(`grpoLoss: beta must be ≥ 0, got ${beta}`);
  if (beta > 0 && !refLogprobs) throw new Error("grpoLoss: beta > 0 needs refLogprobs");
  if (!["grpo", "bnpo", "dr_grpo", "dapo"].includes(lossType)) {
    throw new Error(`grpoLoss: unknown lossType "${String(lossType)}" (grpo | bnpo | dr_grpo | dapo)`);
  }
  const [rows, width] = logprobs.shape as [number, number];
  const dtype = logprobs.dtype;
  const keep = keepMask(mask);
  const advantage = np.expandDims(advantages, -1);
  const ratio = np.exp(np.where(keep.ref, logprobs.ref.sub(oldLogprobs), 0));
  const clippedRatio = np.clip(ratio.ref, 1 - clipRange, 1 + clipRangeHigh);
  let perToken = np.minimum(ratio.ref.mul(advantage.ref), clippedRatio.mul(advantage.ref)).neg();
  const metrics: Record<string, JaxArray> = {};
  const count = countAtLeastOne(keep.ref, dtype);
  if (refLogprobs) {
    const logRatio = np.where(keep.ref, refLogprobs.sub(logprobs), 0);
    const kl = np.exp(logRatio.ref).sub(logRatio).sub(1);
    if (beta > 0) perToken = perToken.add(kl.ref.mul(beta));
    metrics.kl = maskedMean(kl, keep.ref, count.ref);
  } else {
    logprobs.dispose();
  }
  if (entropy) metrics.entropy = maskedMean(entropy, keep.ref, count.ref);
  const lowClipped = np.logicalAnd(np.less(ratio.ref, 1 - clipRange), np.less(advantage.ref, 0));
  const highClipped = np.logicalAnd(np.greater(ratio, 1 + clipRangeHigh), np.greater(advantage, 0));
  const regionClipped = np.logicalOr(lowClipped.ref, highClipped.ref);
  metrics["clip_ratio/low_mean"] = maskedFraction(lowClipped, keep.ref, count.ref, dtype);
  metrics["clip_ratio/high_mean"] = maskedFraction(highClipped, keep.ref, count.ref, dtype);
  metrics["clip_ratio/region_mean"] = maskedFraction(regionClipped, keep.ref, count.ref, dtype);
  let loss: JaxArray;
  if (lossType === "grpo") {
    const perSequenceCount = countAtLeastOne(keep.ref, dtype, -1);
    count.dispose();
    loss = np.where(keep, perToken, 0).sum(-1).div(perSequenceCount).mean();
  } else if (lossType === "bnpo" || (lossType === "dapo" && numItemsInBatch === undefined)) {
    loss = np.where(keep, perToken, 0).sum().div(count);
  } else {
    count.dispose();
    const normaliser = lossType === "dapo" ? Math.max(1, numItemsInBatch as number) : rows * (maxCompletionLength ?? width);
    loss = np.where(keep, perToken, 0).sum().div(normaliser);
  }
  return { loss, metrics };
}

// ---------------------------------------------------------------------------
// KTO
// ---------------------------------------------------------------------------

export type KtoInputs = {
  /** Summed completion log-probs under the policy, [B]. */
  policyLogps: JaxArray;
  /** The same under the frozen reference, [B]. */
  refLogps: JaxArray;
  /** Desirable (thumbs-up) examples, [B], bool or float 0/1. */
  label: JaxArray;
  /** Policy log-probs of mismatched (prompt, completion) pairs, [B'], for the KL reference point. */
  policyKlLogps: JaxArray;
  /** Reference log-probs of the same mismatched pairs, [B']. */
  refKlLogps: JaxArray;
  /** β (TRL default 0.1). */
  beta?: number;
  /** λ_D, weight of desirable examples (TRL `desirable_weight`, 1). */
  desirableWeight?: number;
  /** λ_U, weight of undesirable examples (TRL `undesirable_weight`, 1). */
  undesirableWeight?: number;
};

/**
 * KTO (Ethayarajh et al. 2024; TRL `KTOTrainer`, `loss_type="kto"`), with
 * r = π − ref per example and the reference point
 *   z = max(0, mean(π_KL − ref_KL))  (no gradient; mismatched pairs of the batch),
 * loss = mean over examples of
 *   desirable:   λ_D·(1 − σ(β(r − z)))
 *   undesirable: λ_U·(1 − σ(β(z − r))).
 * Metrics: `kl` (z), `rewards/chosen` and `rewards/rejected` (mean β·r over
 * the desirable / undesirable examples; 0 when the batch has none),
 * `rewards/margins` (their difference), `logps/chosen`, `logps/rejected`
 * (mean policy log-probs of each kind), `count/chosen`, `count/rejected`.
 */
export function ktoLoss({
  policyLogps,
  refLogps,
  label,
  policyKlLogps,
  refKlLogps,
  beta = 0.1,
  desirableWeight = 1,
  undesirableWeight = 1,
}: KtoInputs): LossOutput {
  checkShapes("ktoLoss", { policyLogps, refLogps, label });
  checkShapes("ktoLoss", { policyKlLogps, refKlLogps });
  if (policyLogps.ndim !== 1) throw new Error(`ktoLoss: log-probs must be [B], got [${policyLogps.shape.join(", ")}]`);
  if (!(beta > 0)) throw new Error(`ktoLoss: beta must be > 0, got ${beta}`);
  const dtype = policyLogps.dtype;
  const desirable = keepMask(label);
  const z = np.maximum(lax.stopGradient(policyKlLogps.sub(refKlLogps).mean()), 0);
  const logratio = policyLogps.ref.sub(refLogps);
  const chosenLosses = nn.sigmoid(logratio.ref.sub(z.ref).mul(beta)).neg().add(1).mul(desirableWeight);
  const rejectedLosses = nn.sigmoid(z.ref.sub(logratio.ref).mul(beta)).neg().add(1).mul(undesirableWeight);
  const loss = np.where(desirable.ref, chosenLosses, rejectedLosses).mean();
  const undesirable = np.logicalNot(desirable.ref);
  const chosenCount = desirable.ref.astype(dtype).sum();
  const rejectedCount = undesirable.ref.astype(dtype).sum();
  const rewards = lax.stopGradient(logratio).mul(beta);
  const meanOf = (x: JaxArray, where: JaxArray, n: JaxArray) => np.where(where, x, 0).sum().div(np.maximum(n, 1));
  const chosenRewards = meanOf(rewards.ref, desirable.ref, chosenCount.ref);
  const rejectedRewards = meanOf(rewards, undesirable.ref, rejectedCount.ref);
  const metrics = {
    kl: z,
    "rewards/chosen": chosenRewards.ref,
    "rewards/rejected": rejectedRewards.ref,
    "rewards/margins": chosenRewards.sub(rejectedRewards),
    "logps/chosen": meanOf(policyLogps.ref, desirable, chosenCount.ref),
    "logps/rejected": meanOf(policyLogps, undesirable, rejectedCount.ref),
    "count/chosen": chosenCount,
    "count/rejected": rejectedCount,
  };
  return { loss, metrics };
}

// ---------------------------------------------------------------------------
// Reference-free preference optimisation: ORPO, CPO, SimPO
// ---------------------------------------------------------------------------

/** TRL's reward metrics of a reference-free trainer: rewards are β·log-prob of each completion. */
function referenceFreeMetrics(policyChosen: JaxArray, policyRejected: JaxArray, beta: number): Record<string, JaxArray> {
  const chosenRewards = policyChosen.ref.mul(beta);
  const rejectedRewards = policyRejected.ref.mul(beta);
  return {
    "rewards/chosen": chosenRewards.ref.mean(),
    "rewards/rejected": rejectedRewards.ref.mean(),
    "rewards/accuracies": np.greater(chosenRewards.ref, rejectedRewards.ref).astype(policyChosen.dtype).mean(),
    "rewards/margins": chosenRewards.sub(rejectedRewards).mean(),
    "logps/chosen": policyChosen.mean(),
    "logps/rejected": policyRejected.mean(),
  };
}

export type OrpoInputs = {
  /** Policy log-probs of the chosen completions, AVERAGED over their tokens, [B]. */
  policyChosen: JaxArray;
  /** The same for the rejected completions, [B]. */
  policyRejected: JaxArray;
  /** The SFT term: mean NLL over the chosen completions' tokens, 0-d. */
  nll: JaxArray;
  /** λ, weight of the odds-ratio term (TRL `beta`, 0.1). */
  beta?: number;
};

/**
 * ORPO (Hong et al. 2024; TRL `ORPOTrainer`). With per-token averaged
 * log-probs p_c, p_r and log-odds log(p/(1−p)) = p − log(1 − e^p):
 *   log_odds = (p_c − p_r) − (log(1 − e^p_c) − log(1 − e^p_r)),
 *   loss = nll − β·mean(log σ(log_odds)).
 * Metrics: TRL's `rewards/*` (reward = β·p), `logps/chosen|rejected`,
 * `nll_loss`, `log_odds_ratio` = mean log σ(log_odds), `log_odds_chosen` =
 * mean log_odds.
 */
export function orpoLoss({ policyChosen, policyRejected, nll, beta = 0.1 }: OrpoInputs): LossOutput {
  checkShapes("orpoLoss", { policyChosen, policyRejected });
  if (policyChosen.ndim !== 1) throw new Error(`orpoLoss: log-probs must be [B], got [${policyChosen.shape.join(", ")}]`);
  if (nll.ndim !== 0) throw new Error(`orpoLoss: nll must be 0-d, got [${nll.shape.join(", ")}]`);
  if (!(beta > 0)) throw new Error(`orpoLoss: beta must be > 0, got ${beta}`);
  // log(1 − e^p) as log(−expm1(p)) (no cancellation for p near 0), with one
  // Newton step y ← y − 1 + x·e^−y on the log: jax-js' float64 log is only
  // float32-accurate (log 7 is off by 2e-6), its exp is good to ~3e-8.
  const log1mExp = (p: JaxArray) => {
    const x = np.expm1(p).neg();
    const y = np.log(x.ref);
    return y.ref.sub(1).add(x.mul(np.exp(y.neg())));
  };
  const logOdds = policyChosen.ref.sub(policyRejected.ref).sub(log1mExp(policyChosen.ref).sub(log1mExp(policyRejected.ref)));
  const ratio = logSigmoid(logOdds.ref);
  const loss = nll.ref.sub(ratio.ref.mean().mul(beta));
  const metrics = {
    ...referenceFreeMetrics(policyChosen, policyRejected, beta),
    nll_loss: nll,
    log_odds_ratio: ratio.mean(),
    log_odds_chosen: logOdds.mean(),
  };
  return { loss, metrics };
}

export type CpoLossType = "sigmoid" | "hinge" | "ipo" | "simpo";

export type CpoInputs = {
  /** Policy log-probs of the chosen completions, [B]: SUMMED for sigmoid/hinge, AVERAGED over tokens for ipo/simpo (as TRL). */
  policyChosen: JaxArray;
  /** The same for the rejected completions, [B]. */
  policyRejected: JaxArray;
  /** Mean NLL over the chosen completions' tokens, 0-d; needed when `cpoAlpha` > 0. */
  nll?: JaxArray;
  /** β (TRL `CPOConfig.beta` 0.1; SimPO's paper uses 2.0 and more). */
  beta?: number;
  lossType?: CpoLossType;
  /** ε: probability that a label is flipped (sigmoid and simpo). */
  labelSmoothing?: number;
  /** Weight of the NLL (behaviour-cloning) term (TRL `cpo_alpha`, 1; SimPO: 0). */
  cpoAlpha?: number;
  /** SimPO's target reward margin γ (TRL `simpo_gamma`, 0.5). */
  simpoGamma?: number;
};

/**
 * CPO (Xu et al. 2024) and SimPO (Meng et al. 2024), TRL `CPOTrainer`: no
 * reference model; with u = π_c − π_r,
 * - sigmoid: −(1−ε)·log σ(βu) − ε·log σ(−βu)
 * - hinge:   max(0, 1 − βu)
 * - ipo:     (u − 1/(2β))²
 * - simpo:   the sigmoid loss of u − γ/β on averaged log-probs: −log σ(βu − γ) (ε = 0)
 * loss = mean over pairs + α·nll (α = `cpoAlpha`; TRL adds it whenever α > 0).
 * Metrics: `rewards/*` (reward = β·π), `logps/chosen|rejected`, and
 * `nll_loss` when an `nll` is given.
 */
export function cpoLoss({
  policyChosen,
  policyRejected,
  nll,
  beta = 0.1,
  lossType = "sigmoid",
  labelSmoothing = 0,
  cpoAlpha = 1,
  simpoGamma = 0.5,
}: CpoInputs): LossOutput {
  checkShapes("cpoLoss", { policyChosen, policyRejected });
  if (policyChosen.ndim !== 1) throw new Error(`cpoLoss: log-probs must be [B], got [${policyChosen.shape.join(", ")}]`);
  if (!(beta > 0)) throw new Error(`cpoLoss: beta must be > 0, got ${beta}`);
  if (!(labelSmoothing >= 0 && labelSmoothing < 0.5)) throw new Error(`cpoLoss: labelSmoothing must be in [0, 0.5), got ${labelSmoothing}`);
  if (cpoAlpha < 0) throw new Error(`cpoLoss: cpoAlpha must be ≥ 0, got ${cpoAlpha}`);
  if (cpoAlpha > 0 && !nll) throw new Error("cpoLoss: cpoAlpha > 0 needs nll");
  let u = policyChosen.ref.sub(policyRejected.ref);
  let losses: JaxArray;
  if (lossType === "sigmoid" || lossType === "simpo") {
    if (lossType === "simpo") u = u.sub(simpoGamma / beta);
    const scaled = u.mul(beta);
    if (labelSmoothing === 0) losses = logSigmoid(scaled).neg();
    else
      losses = logSigmoid(scaled.ref)
        .mul(1 - labelSmoothing)
        .add(logSigmoid(scaled.neg()).mul(labelSmoothing))
        .neg();
  } else if (lossType === "hinge") {
    losses = nn.relu(u.mul(-beta).add(1));
  } else if (lossType === "ipo") {
    losses = np.square(u.sub(1 / (2 * beta)));
  } else {
    u.dispose();
    throw new Error(`cpoLoss: unknown lossType "${String(lossType)}" (sigmoid | hinge | ipo | simpo)`);
  }
  let loss = losses.mean();
  const metrics = referenceFreeMetrics(policyChosen, policyRejected, beta);
  if (nll) {
    if (cpoAlpha > 0) loss = loss.add(nll.ref.mul(cpoAlpha));
    metrics.nll_loss = nll;
  }
  return { loss, metrics };
}
