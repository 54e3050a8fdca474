/**
 * A rollout's rows as a training batch for the online trainers: ids, positions,
 * key mask and the response mask, without the reward model's last-token index.
 */
import type { Array as JaxArray } from "../engine/jax.js";
import { type Rollout, rolloutArrays } from "./rollout.js";

export type RolloutBatch = { ids: JaxArray; positions: JaxArray; keyMask: JaxArray; mask: JaxArray };

/** The rows `select` (default: all, in order) of `rollout` on the device; `mask` [rows, T−1] marks the response tokens. */
export function rolloutBatch(rollout: Rollout, select?: number[]): RolloutBatch {
  const arrays = rolloutArrays(rollout, select);
  arrays.lastIndex.dispose();
  return { ids: arrays.ids, positions: arrays.positions, keyMask: arrays.keyMask, mask: arrays.responseMask };
}
