/**
 * Log-probabilities of target tokens under a vocabulary head, logits z =
 * hidden · Wᵀ / τ, computed in chunks of tokens so that no [tokens, vocab]
 * array larger than one chunk is live at once, with gradients that skip the
 * log-softmax's autodiff:
 *
 *   log p_t = z_t[y_t] − logsumexp(z_t)
 *   ∂ log p_t / ∂h_t = (onehot(y_t) − p_t) · W / τ =: J_t          [D] per token
 *   ∂ log p_t / ∂W   = (onehot(y_t) − p_t) ⊗ h_t / τ
 *
 * The log-probs returned are sg(log p) + h·sg(J) − sg(h·J) (sg = stop
 * gradient): the same values, and under `grad` exactly the gradient above with
 * respect to the hidden states; with `gradients: "weight"` a second such term,
 * Σ_v sg(onehot − p)_v · z_v, carries the gradient to W. Why: jax-js 0.1.25's
 * autodiff of a log-softmax keeps the full logits and softmax for the backward
 * pass and fuses the softmax's exp into the matmul that reads its gradient,
 * recomputing it for every hidden unit (a 1-layer step at vocab 49,152 took
 * ~40 s for 128 tokens, and the logits' gradients did not fit at real sizes).
 * What is kept for the backward pass here: J ([tokens, D]) and, only when W
 * trains, onehot − p (tokens × vocab, the least a single pass can keep).
 */
import { type Array as JaxArray, lax, numpy as np } from "./jax.js";
import { materialize, oneHot } from "./nn.js";

/** Elements per chunk of [tokens, vocab] values: 64 MiB of float32. */
const CHUNK_ELEMENTS = 2 ** 24;

/**
 * Token rows of a chunk are padded to a multiple of this. jax-js's fast
 * matmul kernels need it: at vocab 49,152 the logits of 127 tokens took 2x,
 * and the head's weight gradient 2.6x, as long as those of 128 (or 120).
 * Next-token rows are T − 1 per sequence, so they rarely come aligned.
 */
const ROW_ALIGNMENT = 16;

/** Tokens per chunk for a vocabulary (at least 1, at most `tokens`; a multiple of the row alignment when smaller than `tokens`). */
export function tokensPerChunk(vocab: number, tokens: number, elements = CHUNK_ELEMENTS): number {
  const fits = Math.floor(elements / vocab);
  const aligned = fits >= ROW_ALIGNMENT ? fits - (fits % ROW_ALIGNMENT) : fits;
  return Math.max(1, Math.min(tokens, aligned));
}

export type HeadOptions = {
  /** Logits are divided by it (sampling temperature); default 1. */
  temperature?: number;
  /** Tokens per chunk; default from `tokensPerChunk`. */
  chunk?: number;
  /** Also return the entropy of each predictive distribution (no gradient). */
  entropy?: boolean;
  /**
   * What the log-probs carry gradients to: "none" (a forward pass: cheapest;
   * do not differentiate it), "hidden" (the hidden states; W must be frozen,
   * as under LoRA) or "weight" (the hidden states and W).
   */
  gradients?: "none" | "hidden" | "weight";
};

/**
 * log p(targets) [N] for hidden [N, D], head weight [V, D] and int32 targets
 * [N], and the entropies [N] when asked. Consumes the three arrays.
 */
export function headLogProbs(
  hidden: JaxArray,
  weight: JaxArray,
  targets: JaxArray,
  { temperature = 1, chunk, entropy = false, gradients = "none" }: HeadOptions = {},
): { logprobs: JaxArray; entropy: JaxArray | null } {
  const [n] = hidden.shape as [number, number];
  const vocab = weight.shape[0] as number;
  const size = chunk ?? tokensPerChunk(vocab, n);
  const logprobs: JaxArray[] = [];
  const entropies: JaxArray[] = [];
  // Stop-gradients are applied to chunk-sized arrays only: under jit a stopped view of W read by
  // several kernels is copied (V × D floats).
  const trainsWeight = gradients === "weight";
  for (let start = 0; start < n; start += size) {
    const end = Math.min(n, start + size);
    const rows = end - start;
    // Zero rows (target 0) up to the alignment: they add nothing to W's gradient and are cut off below.
    const pad = rows >= ROW_ALIGNMENT && rows % ROW_ALIGNMENT !== 0 ? ROW_ALIGNMENT - (rows % ROW_ALIGNMENT) : 0;
    let h = hidden.ref.slice([start, end]);
    let y = targets.ref.slice([start, end]);
    if (pad > 0) {
      h = np.concatenate([h, np.zeros([pad, hidden.shape[1] as number], { dtype: hidden.dtype })]);
      y = np.concatenate([y, np.zeros([pad], { dtype: targets.dtype })]);
    }
    const unpad = (a: JaxArray) => (pad > 0 ? a.slice([0, rows]) : a);
    const input = gradients === "none" ? h.ref : lax.stopGradient(h.ref);
    // Logits: differentiable (in W) only when W trains.
    let z = np.matmul(input, np.transpose(weight.ref));
    if (temperature !== 1) z = z.mul(1 / temperature);
    const zs = trainsWeight ? lax.stopGradient(z.ref) : z.ref;
    const max = zs.ref.max(-1, { keepdims: true });
    const logsumexp = np.log(np.exp(zs.ref.sub(max.ref)).sum(-1, { keepdims: true })).add(max);
    const isTarget = oneHot(y, vocab, zs.dtype);
    const value = isTarget.ref.mul(zs.ref).sum(-1).sub(np.squeeze(logsumexp.ref, -1));
    if (entropy) {
      // H = logsumexp − Σ p·z
      const p = np.exp(zs.ref.sub(logsumexp.ref));
      entropies.push(materialize(unpad(np.squeeze(logsumexp.ref, -1).sub(p.mul(zs.ref).sum(-1)))));
    }
    if (gradients === "none") {
      z.dispose();
      h.dispose();
      isTarget.dispose();
      logprobs.push(materialize(unpad(value)));
    } else {
      // onehot − p, in its own buffer: fused into the matmul below, exp would run once per hidden unit.
      const residual = materialize(isTarget.sub(np.exp(zs.ref.sub(logsumexp.ref))));
      const jacobian = lax.stopGradient(np.matmul(residual.ref, weight.ref).mul(1 / temperature));
      const toHidden = h.mul(jacobian).sum(-1);
      let out = value.add(toHidden.ref.sub(lax.stopGradient(toHidden)));
      if (trainsWeight) {
        // Σ_v (onehot − p)_v·z_v as a batched [1, V]·[V, 1] product, not a product and a sum: the
        // transpose of a matmul computes the logits' cotangent (its scale per token times onehot − p)
        // into its own buffer, and W's gradient then contracts two inputs, a plain matrix product.
        // Written as mul + sum, that cotangent is fused into W's gradient, a three-input contraction
        // over tokens. GPT-2's head, 320 tokens, W's gradient: 0.11 s against 1.57 s and 0.19 against
        // 0.37 s with OpenBLAS matmuls on (two runs); with PRECEPT_MATMUL=wasm 1.45 against 1.50 s.
        const toWeight = np.matmul(np.expandDims(lax.stopGradient(residual), 1), np.expandDims(z, -1)).reshape([rows + pad]);
        out = out.add(toWeight.ref.sub(lax.stopGradient(toWeight)));
      } else {
        residual.dispose();
        z.dispose();
      }
      logprobs.push(materialize(unpad(out)));
    }
    zs.dispose();
    logsumexp.dispose();
  }
  hidden.dispose();
  weight.dispose();
  targets.dispose();
  return { logprobs: join(logprobs), entropy: entropy ? join(entropies) : null };
}

/** Chunk results are materialized first: left as expressions, they would be computed in the concatenation, which keeps every chunk's logits alive until then. */
function join(parts: JaxArray[]): JaxArray {
  return parts.length === 1 ? (parts[0] as JaxArray) : np.concatenate(parts);
}
