/**
 * Rewards, advantages and returns for the on-policy trainers (PPO, GRPO,
 * RLOO), computed on the host.
 *
 * They run once per rollout batch, outside the differentiated step, over a
 * few thousand numbers, and GAE is a right-to-left recursion: plain loops
 * over typed arrays are simpler and faster than device arrays here. Sums are
 * accumulated in float64; results are Float32Array (what `readFloats` gives
 * and what goes back to the device).
 *
 * Layout: per-token values of a batch are a `TokenValues` — row-major
 * [batch, length], the layout of `readFloats` of a [B, T] array. A mask is a
 * flat array in the same layout with non-zero for real response tokens
 * (PaddedBatch's Uint8Array `mask`, or a Float32Array of 0/1). Outputs are 0
 * at masked-out positions.
 */
import type { KLEstimator } from "./losses.js";

/** Per-token values of a batch, row-major [batch, length]. */
export type TokenValues = { batch: number; length: number; data: Float32Array };

/** A batch mask: flat, same layout as the `TokenValues` it goes with, non-zero = real token. */
export type TokenMask = ArrayLike<number>;

function checkLayout(where: string, named: Record<string, TokenValues>, mask: TokenMask): { batch: number; length: number } {
  const entries = Object.entries(named);
  const [firstName, first] = entries[0] as [string, TokenValues];
  for (const [name, x] of entries) {
    if (x.data.length !== x.batch * x.length) {
      throw new Error(`${where}: ${name} has ${x.data.length} values but is declared [${x.batch}, ${x.length}]`);
    }
    if (x.batch !== first.batch || x.length !== first.length) {
      throw new Error(`${where}: ${name} is [${x.batch}, ${x.length}] but ${firstName} is [${first.batch}, ${first.length}]`);
    }
  }
  if (mask.length !== first.batch * first.length) {
    throw new Error(
      `${where}: mask has ${mask.length} entries, expected ${first.batch * first.length} ([${first.batch}, ${first.length}])`,
    );
  }
  return { batch: first.batch, length: first.length };
}

/** One token's KL(π ‖ π_ref) estimate (see `klPenalty` in losses.ts): k1 = logp − ref; k3 = e^(ref−logp) − (ref−logp) − 1. */
export function klEstimate(logprob: number, refLogprob: number, estimator: KLEstimator = "k1"): number {
  if (estimator === "k1") return logprob - refLogprob;
  if (estimator === "k3") {
    const logRatio = refLogprob - logprob;
    // expm1 keeps k3 accurate (and ≥ 0) when the two log-probs are close.
    return Math.expm1(logRatio) - logRatio;
  }
  throw new Error(`klEstimate: unknown estimator "${String(estimator)}" (k1 | k3)`);
}

export type GaeInputs = {
  /** Per-token rewards (e.g. from `ppoTokenRewards`). */
  rewards: TokenValues;
  /** Value-head predictions at each token. */
  values: TokenValues;
  /** Real response tokens. */
  mask: TokenMask;
  /** Discount γ (TRL default 1.0). */
  gamma?: number;
  /** GAE λ (TRL default 0.95). */
  lam?: number;
};

/**
 * Generalized advantage estimation, per sequence over its real response
 * tokens, right to left:
 *
 *   δ_t = r_t + γ·V_{t+1} − V_t,   A_t = δ_t + γλ·A_{t+1},
 *
 * where t+1 is the sequence's next real token and V = A = 0 after its last
 * one (TRL's loop over a right-padded batch, whose rewards and values are 0
 * at padding). Returns are A_t + V_t, taken before any whitening (TRL).
 * Masked-out positions are skipped and get 0 in both outputs.
 */
export function gae({ rewards, values, mask, gamma = 1, lam = 0.95 }: GaeInputs): { advantages: TokenValues; returns: TokenValues } {
  const { batch, length } = checkLayout("gae", { rewards, values }, mask);
  const advantages = new Float32Array(batch * length);
  const returns = new Float32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    let nextValue = 0;
    let nextAdvantage = 0;
    for (let t = length - 1; t >= 0; t--) {
      const i = b * length + t;
      if (!mask[i]) continue;
      const value = values.data[i] as number;
      const delta = (rewards.data[i] as number) + gamma * nextValue - value;
      nextAdvantage = delta + gamma * lam * nextAdvantage;
      nextValue = value;
      advantages[i] = nextAdvantage;
      returns[i] = nextAdvantage + value;
    }
  }
  return { advantages: { batch, length, data: advantages }, returns: { batch, length, data: returns } };
}

/**
 * Whitening over the real entries of a batch (TRL `masked_whiten`): (x − mean)
 * / √(var + 1e-8) with the mean and the UNBIASED variance (Bessel's n/(n−1),
 * TRL `masked_var(unbiased=True)`) of the entries where `mask` is non-zero.
 * With `shiftMean = false` the mean is added back (TRL's reward whitening).
 * Masked-out entries are 0 in the result (TRL follows `masked_whiten` with
 * `masked_fill(padding, 0)`). Any layout: `values` and `mask` are flat and
 * aligned. Fewer than 2 real entries is an error (the unbiased variance is
 * undefined; TRL raises too).
 */
export function whiten(values: Float32Array, mask: TokenMask, shiftMean = true): Float32Array {
  if (mask.length !== values.length) throw new Error(`whiten: ${values.length} values but ${mask.length} mask entries`);
  let count = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    if (!mask[i]) continue;
    count++;
    sum += values[i] as number;
  }
  if (count < 2) throw new Error(`whiten: needs at least 2 real entries for the unbiased variance, got ${count}`);
  const mean = sum / count;
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    if (mask[i]) squares += ((values[i] as number) - mean) ** 2;
  }
  const variance = squares / (count - 1);
  const scale = 1 / Math.sqrt(variance + 1e-8);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    if (mask[i]) out[i] = ((values[i] as number) - mean) * scale + (shiftMean ? 0 : mean);
  }
  return out;
}

export type PpoTokenRewardInputs = {
  /** One score per sequence (reward model or function, after any missing-EOS penalty), [B]. */
  scores: ArrayLike<number>;
  /** Rollout log-probs of the sampled tokens under the policy. */
  logprobs: TokenValues;
  /** Log-probs of the same tokens under the reference model. */
  refLogprobs: TokenValues;
  /** Real response tokens (each sequence needs at least one). */
  mask: TokenMask;
  /** The KL coefficient (fixed, or `AdaptiveKLController.value`). */
  klCoef: number;
  /** KL estimator (TRL `kl_estimator`, default k1). */
  estimator?: KLEstimator;
};

export type PpoTokenRewards = {
  /** r_t = −klCoef·KL_t, plus the score at each sequence's last real token; 0 at padding. */
  rewards: TokenValues;
  /** Per-token KL estimates, 0 at padding. */
  kl: TokenValues;
  /** Σ_t KL_t per sequence, [B]: its batch mean is TRL's `objective/kl`. */
  klSum: Float32Array;
  /** Σ_t −klCoef·KL_t per sequence, [B]: its batch mean is `objective/non_score_reward`; plus the score, `objective/rlhf_reward`. */
  nonScoreReward: Float32Array;
};

/**
 * PPO's per-token rewards (Ziegler et al.; TRL `PPOTrainer`): every real token
 * gets −klCoef·KL_t, and the sequence's score is added at its last real token
 * (TRL adds it at `sequence_lengths_p1`, the EOS position that its
 * truncation turned into padding; here the mask covers EOS, so it is the last
 * real token).
 */
export function ppoTokenRewards({ scores, logprobs, refLogprobs, mask, klCoef, estimator = "k1" }: PpoTokenRewardInputs): PpoTokenRewards {
  const { batch, length } = checkLayout("ppoTokenRewards", { logprobs, refLogprobs }, mask);
  if (scores.length !== batch) throw new Error(`ppoTokenRewards: ${scores.length} scores for a batch of ${batch}`);
  const rewards = new Float32Array(batch * length);
  const kl = new Float32Array(batch * length);
  const klSum = new Float32Array(batch);
  const nonScoreReward = new Float32Array(batch);
  for (let b = 0; b < batch; b++) {
    let sum = 0;
    let last = -1;
    for (let t = 0; t < length; t++) {
      const i = b * length + t;
      if (!mask[i]) continue;
      const k = klEstimate(logprobs.data[i] as number, refLogprobs.data[i] as number, estimator);
      kl[i] = k;
      rewards[i] = -klCoef * k;
      sum += k;
      last = i;
    }
    if (last < 0) throw new Error(`ppoTokenRewards: sequence ${b} has no real response token to put its score on`);
    rewards[last] = (rewards[last] as number) + (scores[b] as number);
    klSum[b] = sum;
    nonScoreReward[b] = -klCoef * sum;
  }
  return { rewards: { batch, length, data: rewards }, kl: { batch, length, data: kl }, klSum, nonScoreReward };
}

function checkGroups(where: string, rewards: ArrayLike<number>, groupSize: number): void {
  if (!Number.isInteger(groupSize) || groupSize < 2) throw new Error(`${where}: groupSize must be an integer ≥ 2, got ${groupSize}`);
  if (rewards.length % groupSize !== 0) {
    throw new Error(`${where}: ${rewards.length} rewards do not split into groups of ${groupSize} (consecutive samples of one prompt)`);
  }
}

/**
 * GRPO advantages (TRL `GRPOTrainer._generate_and_score_completions`): the
 * rewards come in consecutive groups of `groupSize` samples of one prompt;
 * A_i = (r_i − mean_group) / (std_group + eps), or r_i − mean_group when
 * `scaleRewards` is false. The std is torch's `Tensor.std(dim=1)`, which is
 * the UNBIASED (n − 1) estimate; eps = 1e-4 as in TRL.
 */
export function grpoAdvantages(
  rewards: ArrayLike<number>,
  groupSize: number,
  { scaleRewards = true, eps = 1e-4 }: { scaleRewards?: boolean; eps?: number } = {},
): number[] {
  checkGroups("grpoAdvantages", rewards, groupSize);
  const out: number[] = [];
  for (let start = 0; start < rewards.length; start += groupSize) {
    const group = Array.from({ length: groupSize }, (_, j) => rewards[start + j] as number);
    const mean = group.reduce((a, r) => a + r, 0) / groupSize;
    const std = Math.sqrt(group.reduce((a, r) => a + (r - mean) ** 2, 0) / (groupSize - 1));
    for (const r of group) out.push(scaleRewards ? (r - mean) / (std + eps) : r - mean);
  }
  return out;
}

/**
 * RLOO advantages (Ahmadian et al. 2024; TRL `RLOOTrainer`): in each group of
 * `groupSize` consecutive samples of one prompt, A_i = r_i − mean of the other
 * G − 1 rewards. Pass rewards with the KL already subtracted (TRL: score −
 * β·Σ KL, β = 0.05). Layout: consecutive groups, as `grpoAdvantages` (TRL's
 * RLOO reshapes its rewards to [k, B], sample-major; reorder before calling).
 */
export function rlooAdvantages(rewards: ArrayLike<number>, groupSize: number): number[] {
  checkGroups("rlooAdvantages", rewards, groupSize);
  const out: number[] = [];
  for (let start = 0; start < rewards.length; start += groupSize) {
    let sum = 0;
    for (let j = 0; j < groupSize; j++) sum += rewards[start + j] as number;
    for (let j = 0; j < groupSize; j++) {
      const r = rewards[start + j] as number;
      out.push(r - (sum - r) / (groupSize - 1));
    }
  }
  return out;
}
