/**
 * Global-norm gradient clipping (as `torch.nn.utils.clip_grad_norm_`):
 * if ‖g‖ > maxNorm, every gradient is scaled by maxNorm / (‖g‖ + 1e-6).
 */
import { type Array as JaxArray, numpy as np } from "./jax.js";
import { flattenNamed, mapTree, type ParamTree } from "./tree.js";

/** The L2 norm over all leaves, as a 0-d array. The tree is kept. */
export function globalNorm(tree: ParamTree): JaxArray {
  let total: JaxArray | null = null;
  for (const [, leaf] of flattenNamed(tree)) {
    const sq = np.square(leaf.ref.astype(np.float32)).sum();
    total = total ? total.add(sq) : sq;
  }
  return np.sqrt(total ?? np.array(0, { dtype: np.float32 }));
}

/**
 * Clips `grads` (consumed) to `maxNorm` and returns the clipped tree and the
 * norm before clipping (a 0-d array the caller reads or disposes). The scale
 * stays on the device, so clipping adds no host round trip.
 */
export function clipByGlobalNorm(grads: ParamTree, maxNorm: number): { grads: ParamTree; norm: JaxArray } {
  const norm = globalNorm(grads);
  const scale = np.minimum(np.array(maxNorm, { dtype: np.float32 }).div(norm.ref.add(1e-6)), 1);
  const clipped = mapTree((g) => g.mul(scale.ref.astype(g.dtype)), grads);
  scale.dispose();
  return { grads: clipped, norm };
}
