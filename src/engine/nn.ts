/**
 * The building blocks transformer models are made of, as pure functions over
 * jax-js arrays. Each consumes its array arguments (jax-js ownership) and
 * works in the dtype it is given (float32 for models, float64 in gradient
 * checks). Weight layouts follow PyTorch: `nn.Linear` is [out, in]; GPT-2's
 * `Conv1D` is [in, out].
 */
import { type Array as JaxArray, nn, numpy as np } from "./jax.js";

/**
 * The same values, computed into their own buffer inside `jit`. jax-js 0.1.25
 * fuses a layout change (a transpose + reshape, such as merging attention
 * heads) into the matmul that reads it, and that fused matmul runs about 30x
 * slower than one over a contiguous input. A sum over a new axis of size 1 is
 * a reduction, which jit always materializes; its gradient is the identity.
 */
export function materialize(x: JaxArray): JaxArray {
  return np.expandDims(x, -1).sum(-1);
}

/** Rows of `weight` [vocab, dim] for integer `ids` of any shape → [...ids.shape, dim]. */
export function embedding(weight: JaxArray, ids: JaxArray): JaxArray {
  return np.take(weight, ids, 0);
}

/**
 * The same lookup as a one-hot matmul. Its gradient is a matmul too, where
 * the gather's gradient is a scatter, which jax-js 0.1.25 cannot put inside
 * `jit`; so training steps that are jitted whole embed this way. It costs
 * tokens × vocab × dim multiply-adds: negligible for small vocabularies, about
 * a tenth of a GPT-2-small step at vocab 50k.
 */
export function embeddingOneHot(weight: JaxArray, ids: JaxArray): JaxArray {
  return np.matmul(oneHot(ids, weight.shape[0] as number, weight.dtype), weight);
}

/**
 * [...ids.shape, classes] one-hot rows. jax-js' `nn.oneHot` slices rows of an
 * identity matrix, which holds classes² values: 9.7 GB at vocab 49,152, the
 * reason training at real vocabularies ran out of memory. A comparison with
 * `arange` needs only the rows themselves.
 */
export function oneHot(ids: JaxArray, classes: number, dtype: JaxArray["dtype"] = np.float32): JaxArray {
  return np.equal(np.expandDims(ids, -1), np.arange(classes).astype(np.int32)).astype(dtype);
}

/** `nn.Linear`: x · Wᵀ + b with W [out, in]. */
export function linear(x: JaxArray, weight: JaxArray, bias?: JaxArray | null): JaxArray {
  const y = np.matmul(x, np.transpose(weight));
  return bias ? y.add(bias) : y;
}

/** GPT-2's `Conv1D`: x · W + b with W [in, out]. */
export function conv1d(x: JaxArray, weight: JaxArray, bias?: JaxArray | null): JaxArray {
  const y = np.matmul(x, weight);
  return bias ? y.add(bias) : y;
}

/** LayerNorm over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: JaxArray, gamma: JaxArray, beta: JaxArray, eps = 1e-5): JaxArray {
  const centered = x.ref.sub(x.mean(-1, { keepdims: true }));
  const variance = np.square(centered.ref).mean(-1, { keepdims: true });
  return centered
    .div(np.sqrt(variance.add(eps)))
    .mul(gamma)
    .add(beta);
}

/** RMSNorm (Llama): x / √(mean(x²) + ε) · γ. */
export function rmsNorm(x: JaxArray, gamma: JaxArray, eps = 1e-6): JaxArray {
  const meanSquare = np.square(x.ref).mean(-1, { keepdims: true });
  return x.div(np.sqrt(meanSquare.add(eps))).mul(gamma);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU with the tanh approximation (GPT-2's "gelu_new"). */
export function geluTanh(x: JaxArray): JaxArray {
  const inner = x.ref.add(x.ref.mul(x.ref).mul(x.ref).mul(0.044715)).mul(SQRT_2_OVER_PI);
  return x.mul(np.tanh(inner).add(1)).mul(0.5);
}

/** SiLU (swish): x · σ(x), the gate of Llama's SwiGLU MLP. */
export function silu(x: JaxArray): JaxArray {
  return x.ref.mul(nn.sigmoid(x));
}

/**
 * Causal mask for `queries` positions attending over `keys` positions, where
 * the queries are the last `queries` of the keys (so a KV-cached decode step
 * sees everything before it): true where attention is allowed. [queries, keys].
 */
export function causalMask(queries: number, keys = queries): JaxArray {
  return np.tri(queries, keys, keys - queries, { dtype: np.bool });
}

/**
 * Softmax over the last axis with masked-out entries (mask false) set to the
 * dtype's lowest value rather than −∞, so a fully masked row (a padding query)
 * gives a uniform row instead of NaN.
 */
export function maskedSoftmax(scores: JaxArray, mask: JaxArray): JaxArray {
  const lowest = np.finfo(scores.dtype).min;
  return nn.softmax(np.where(mask, scores, lowest), -1);
}

/**
 * Scaled dot-product attention. q [B, H, T, Dh], k and v [B, H, S, Dh], mask
 * broadcastable to [B, H, T, S] (true = attend). Returns [B, H, T, Dh].
 */
export function attention(q: JaxArray, k: JaxArray, v: JaxArray, mask: JaxArray): JaxArray {
  const scale = 1 / Math.sqrt(q.shape[q.ndim - 1] as number);
  const scores = np.matmul(q, np.swapaxes(k, -1, -2)).mul(scale);
  return np.matmul(maskedSoftmax(scores, mask), v);
}

/**
 * log p(target) under `logits` [..., vocab] for integer `targets` [...] → [...].
 * Selects with a one-hot mask rather than a gather so that its gradient has
 * no scatter and the whole training step can run under `jit`; the mask costs
 * what the log-softmax already costs.
 */
export function tokenLogProbs(logits: JaxArray, targets: JaxArray): JaxArray {
  const logProbs = nn.logSoftmax(logits, -1);
  const vocab = logProbs.shape[logProbs.ndim - 1] as number;
  const isTarget = np.equal(np.expandDims(targets, -1), np.arange(vocab).astype(np.int32));
  return np.where(isTarget, logProbs, 0).sum(-1);
}

/**
 * Mean cross-entropy over the targets that are not `ignoreIndex` (PyTorch's
 * default −100, the label of prompt and padding tokens). 0 if all are ignored.
 */
export function crossEntropy(logits: JaxArray, targets: JaxArray, ignoreIndex = -100): JaxArray {
  const keep = np.notEqual(targets.ref, ignoreIndex);
  const safeTargets = np.where(keep.ref, targets, 0);
  const logProbs = tokenLogProbs(logits, safeTargets);
  const weights = keep.astype(logProbs.dtype);
  const count = np.maximum(weights.ref.sum(), 1);
  return logProbs.mul(weights).sum().neg().div(count);
}
