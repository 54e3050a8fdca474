/**
 * What offline DPO (dpo.ts) and online DPO (online-dpo.ts) share: a batch of
 * chosen rows then rejected rows with the reference's completion log-probs,
 * and the DPO loss of the policy's per-row log-probs against them.
 */
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import { type DpoInputs, dpoLoss } from "./losses.js";

/** Rows 0..B−1 chosen, B..2B−1 rejected; `mask` [2B, T−1] marks the completion tokens; the reference log-probs are [B] each. */
export type DpoBatch = {
  ids: JaxArray;
  positions: JaxArray;
  keyMask: JaxArray;
  mask: JaxArray;
  refChosen: JaxArray;
  refRejected: JaxArray;
};

/** The reference's completion log-probs of each pair as the batch's arrays. */
export function referenceArrays(chosen: ArrayLike<number>, rejected: ArrayLike<number>): Pick<DpoBatch, "refChosen" | "refRejected"> {
  return { refChosen: np.array(Float32Array.from(chosen)), refRejected: np.array(Float32Array.from(rejected)) };
}

/** The DPO loss of the policy's completion log-probs [2B] (chosen rows first); consumes them and the batch's reference arrays. */
export function pairedDpoLoss(
  logps: JaxArray,
  batch: Pick<DpoBatch, "refChosen" | "refRejected">,
  options: Pick<DpoInputs, "beta" | "lossType" | "labelSmoothing">,
) {
  const pairs = batch.refChosen.shape[0] as number;
  const [policyChosen, policyRejected] = np.split(logps, [pairs], 0) as [JaxArray, JaxArray];
  return dpoLoss({ policyChosen, policyRejected, refChosen: batch.refChosen, refRejected: batch.refRejected, ...options });
}
