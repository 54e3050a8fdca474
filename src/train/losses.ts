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
 * - `grpoLoss`: mean over each sequence's real tokens, then mean over the
 *   sequences (TRL's `loss_type="grpo"`).
 */
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";

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
  /** `sigmoid` = DPO (cDPO with `labelSmoothing` > 0); `ipo` = IPO. */
  lossType?: "sigmoid" | "ipo";
  /** ε of conservative DPO: the probability that a label is flipped (sigmoid only). */
  labelSmoothing?: number;
};

/**
 * DPO losses, mean over pairs, with Δ = (π_c − ref_c) − (π_r − ref_r):
 * - sigmoid: −log σ(βΔ); with label smoothing ε (cDPO): −(1−ε)·log σ(βΔ) − ε·log σ(−βΔ);
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
  if (lossType === "ipo" && labelSmoothing !== 0) throw new Error("dpoLoss: labelSmoothing applies to the sigmoid loss only, not to ipo");
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
  } else {
    throw new Error(`dpoLoss: unknown lossType "${String(lossType)}" (sigmoid | ipo)`);
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
  /** ε of the clipped surrogate (TRL `epsilon`, 0.2). */
  clipRange?: number;
  /** Weight of the k3 KL term in the loss (TRL default 0: no reference model needed). */
  beta?: number;
};

/**
 * GRPO's loss (TRL `GRPOTrainer`, `loss_type="grpo"`): per token
 * −min(ρ·A, clip(ρ, 1−ε, 1+ε)·A) + β·k3, averaged over each sequence's real
 * tokens, then over the sequences (a sequence with no real token counts 0).
 *
 * Metrics: `kl` (mean k3 over all real tokens of the batch, when `refLogprobs`
 * is given) and `clip_ratio` (fraction of real tokens where the clip is
 * active: ρ < 1−ε with A < 0, or ρ > 1+ε with A > 0, as TRL counts it).
 */
export function grpoLoss({ logprobs, oldLogprobs, refLogprobs, advantages, mask, clipRange = 0.2, beta = 0 }: GrpoInputs): LossOutput {
  checkShapes("grpoLoss", { logprobs, oldLogprobs, refLogprobs, mask });
  if (logprobs.ndim !== 2) throw new Error(`grpoLoss: log-probs must be [B, T], got [${logprobs.shape.join(", ")}]`);
  if (advantages.ndim !== 1 || advantages.shape[0] !== logprobs.shape[0]) {
    throw new Error(`grpoLoss: advantages must be [B] = [${logprobs.shape[0]}], got [${advantages.shape.join(", ")}]`);
  }
  if (beta < 0) throw new Error(`grpoLoss: beta must be ≥ 0, got ${beta}`);
  if (beta > 0 && !refLogprobs) throw new Error("grpoLoss: beta > 0 needs refLogprobs");
  const dtype = logprobs.dtype;
  const keep = keepMask(mask);
  const advantage = np.expandDims(advantages, -1);
  const ratio = np.exp(np.where(keep.ref, logprobs.ref.sub(oldLogprobs), 0));
  const clippedRatio = np.clip(ratio.ref, 1 - clipRange, 1 + clipRange);
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
  const lowClipped = np
    .less(ratio.ref, 1 - clipRange)
    .astype(dtype)
    .mul(np.less(advantage.ref, 0).astype(dtype));
  const highClipped = np
    .greater(ratio, 1 + clipRange)
    .astype(dtype)
    .mul(np.greater(advantage, 0).astype(dtype));
  metrics.clip_ratio = maskedMean(lowClipped.add(highClipped), keep.ref, count);
  const perSequenceCount = countAtLeastOne(keep.ref, dtype, -1);
  const loss = np.where(keep, perToken, 0).sum(-1).div(perSequenceCount).mean();
  return { loss, metrics };
}
