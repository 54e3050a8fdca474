import { describe, expect, it } from "vitest";
import { numpy as np } from "./jax.js";
import { Rng } from "./rng.js";

/**
 * scripts/patch-jax.mjs 8 compiles elementwise kernels with exp or a division
 * on four lanes. A kernel that also takes a logarithm (which has no SIMD form)
 * is still compiled lane by lane, so the two must agree bit for bit.
 */
describe("SIMD exp and reciprocal (scripts/patch-jax.mjs 8)", () => {
  it("give the lane-by-lane kernels' results bit for bit, edge values included", async () => {
    const rng = new Rng(5);
    const values = [-200, -103, -88, -87.5, -87.3, -50, -1, -1e-8, 0, 1e-8, 0.3466, 1, 10, 50, 88, 88.72, 89, 200];
    for (let i = 0; i < 4000; i++) values.push((rng.uniform() - 0.5) * 180);
    const x = () => np.array(new Float32Array(values));
    // log(|x| + 1) * 0 is 0 for every finite x: it only keeps the kernel off the SIMD path.
    const scalarOnly = (f: (a: ReturnType<typeof x>) => ReturnType<typeof x>) => {
      const a = x();
      return f(a.ref).add(np.log(np.abs(a).add(1)).mul(0));
    };
    const pairs: [string, ReturnType<typeof x>, ReturnType<typeof x>][] = [
      ["exp", np.exp(x()), scalarOnly((a) => np.exp(a))],
      ["reciprocal", np.reciprocal(x()), scalarOnly((a) => np.reciprocal(a))],
      ["sigmoid", np.reciprocal(np.exp(x().mul(-1)).add(1)), scalarOnly((a) => np.reciprocal(np.exp(a.mul(-1)).add(1)))],
    ];
    for (const [name, simd, scalar] of pairs) {
      const a = (await simd.data()) as Float32Array;
      const b = (await scalar.data()) as Float32Array;
      const differing = a.filter((v, i) => !Object.is(v, b[i])).length;
      expect(differing, name).toBe(0);
    }
    const special = (await np
      .exp(np.array(new Float32Array([Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, Number.NaN, 0])))
      .data()) as Float32Array;
    expect(Array.from(special)).toEqual([0, Number.POSITIVE_INFINITY, Number.NaN, 1]);
  });
});
