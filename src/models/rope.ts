/**
 * Rotary position embeddings (RoPE) as Llama-family models in `transformers`
 * compute them: inverse frequencies θ^(−2i/d) for i < d/2, optionally rescaled
 * ("linear" divides them by a factor; "llama3" leaves high frequencies alone,
 * divides low ones by the factor and blends in between), and the
 * rotate-half convention: x·cos + rotate_half(x)·sin with
 * rotate_half([x1, x2]) = [−x2, x1].
 */
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";

export type RopeScaling =
  | { rope_type: "linear"; factor: number }
  | {
      rope_type: "llama3";
      factor: number;
      low_freq_factor: number;
      high_freq_factor: number;
      original_max_position_embeddings: number;
    };

/** Inverse frequencies [headDim / 2] on the host, in float64 then rounded once. */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / headDim);
  if (scaling?.rope_type === "linear") {
    for (let i = 0; i < half; i++) inv[i] = (inv[i] as number) / scaling.factor;
  } else if (scaling?.rope_type === "llama3") {
    const { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: original } = scaling;
    const lowWavelength = original / low;
    const highWavelength = original / high;
    for (let i = 0; i < half; i++) {
      const freq = inv[i] as number;
      const wavelength = (2 * Math.PI) / freq;
      if (wavelength < highWavelength) continue;
      if (wavelength > lowWavelength) {
        inv[i] = freq / factor;
        continue;
      }
      const smooth = (original / wavelength - low) / (high - low);
      inv[i] = (1 - smooth) * (freq / factor) + smooth * freq;
    }
  }
  return Float32Array.from(inv);
}

/** cos and sin tables [B, 1, T, headDim] for integer `positions` [B, T]; consumes `positions`. */
export function ropeTables(positions: JaxArray, inverseFrequencies: Float32Array): { cos: JaxArray; sin: JaxArray } {
  const [b, t] = positions.shape as [number, number];
  const angles = positions
    .astype(np.float32)
    .reshape([b, 1, t, 1])
    .mul(np.array(inverseFrequencies).reshape([1, 1, 1, -1]));
  const both = np.concatenate([angles.ref, angles], -1);
  return { cos: np.cos(both.ref), sin: np.sin(both) };
}

/** Applies the rotation to q or k [B, H, T, headDim]; consumes `x`, keeps the tables. */
export function applyRope(x: JaxArray, cos: JaxArray, sin: JaxArray): JaxArray {
  const half = (x.shape[3] as number) / 2;
  const [x1, x2] = np.split(x.ref, [half], -1) as [JaxArray, JaxArray];
  const rotated = np.concatenate([x2.neg(), x1], -1);
  return x.mul(cos.ref).add(rotated.mul(sin.ref));
}
