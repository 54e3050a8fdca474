/**
 * Finite-difference gradient checks in float64.
 *
 * `f` maps a tree of named inputs to a scalar. The analytic gradient from
 * jax-js `grad` is compared with central differences (f(x+ε) − f(x−ε)) / 2ε
 * at every coordinate (or a seeded sample of them for large inputs). jax-js
 * computes transcendental functions at float32 precision even for float64, so
 * ε is 1e-3 and the tolerance is 1e-4 absolute + 1e-3 relative: far below the
 * O(1) relative error a wrong gradient gives.
 */
import { grad, type Array as JaxArray, numpy as np } from "../../src/engine/jax.js";
import { readNumber } from "../../src/engine/ownership.js";
import { Rng } from "../../src/engine/rng.js";

export type Inputs = Record<string, { shape: number[]; data: Float64Array }>;
export type Mismatch = { input: string; index: number; analytic: number; numeric: number };

function build(inputs: Inputs, override?: { name: string; index: number; delta: number }): Record<string, JaxArray> {
  const out: Record<string, JaxArray> = {};
  for (const [name, { shape, data }] of Object.entries(inputs)) {
    let values = data;
    if (override?.name === name) {
      values = Float64Array.from(data);
      values[override.index] = (values[override.index] as number) + override.delta;
    }
    out[name] = np.array(values, { dtype: np.float64 }).reshape(shape);
  }
  return out;
}

export function randomInputs(seed: number, shapes: Record<string, number[]>, scale = 1): Inputs {
  const rng = new Rng(seed);
  const inputs: Inputs = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    inputs[name] = { shape, data: Float64Array.from({ length: n }, () => rng.normal() * scale) };
  }
  return inputs;
}

export async function gradCheck(
  f: (x: Record<string, JaxArray>) => JaxArray,
  inputs: Inputs,
  { eps = 1e-3, atol = 1e-4, rtol = 1e-3, maxPerInput = 48, seed = 7 } = {},
): Promise<{ mismatches: Mismatch[]; checked: number; gradientNorm: number }> {
  const grads = grad(f)(build(inputs)) as Record<string, JaxArray>;
  const analytic: Record<string, Float64Array> = {};
  for (const [name, g] of Object.entries(grads)) analytic[name] = Float64Array.from((await g.data()) as Float64Array);
  const rng = new Rng(seed);
  const mismatches: Mismatch[] = [];
  let checked = 0;
  let sumSquares = 0;
  for (const [name, { data }] of Object.entries(inputs)) {
    const indices = [...data.keys()];
    const chosen = indices.length <= maxPerInput ? indices : rng.shuffle(indices).slice(0, maxPerInput);
    for (const index of chosen) {
      const plus = await readNumber(f(build(inputs, { name, index, delta: eps })));
      const minus = await readNumber(f(build(inputs, { name, index, delta: -eps })));
      const numeric = (plus - minus) / (2 * eps);
      const value = (analytic[name] as Float64Array)[index] as number;
      sumSquares += value * value;
      checked++;
      if (!(Math.abs(numeric - value) <= atol + rtol * Math.abs(numeric)))
        mismatches.push({ input: name, index, analytic: value, numeric });
    }
  }
  return { mismatches, checked, gradientNorm: Math.sqrt(sumSquares) };
}

/** A fixed random weighting, so sum(out · R) has a non-trivial gradient for every output. */
export function projection(seed: number, shape: number[]): JaxArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const rng = new Rng(seed);
  return np
    .array(
      Float64Array.from({ length: n }, () => rng.normal()),
      { dtype: np.float64 },
    )
    .reshape(shape);
}
