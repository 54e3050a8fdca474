import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { installNativeMatmul, NATIVE_ADDON_PATH, nativeMatmulStatus, uninstallNativeMatmul } from "./blas.js";
import { grad, jit, nn, numpy as np } from "./jax.js";

type Arr = ReturnType<typeof np.array>;

/** Deterministic values in [-0.5, 0.5). */
function values(shape: number[], seed: number): Arr {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[i] = s / 2147483648 - 0.5;
  }
  return np.array(data).reshape(shape);
}

/** Each case builds its inputs afresh (jax-js consumes them) and returns one result. */
const cases: Record<string, () => Arr> = {
  "2-D": () => np.matmul(values([64, 96], 1), values([96, 80], 2)),
  "batched rows times a shared matrix": () => np.matmul(values([4, 64, 96], 3), values([96, 80], 4)),
  "A transposed": () => np.matmul(values([64, 48], 5).transpose(), values([64, 40], 6)),
  "B transposed (a linear layer)": () => np.matmul(values([48, 64], 7), values([72, 64], 8).transpose()),
  "both transposed": () => np.matmul(values([64, 48], 9).transpose(), values([40, 64], 10).transpose()),
  "attention scores (batch and heads)": () => np.matmul(values([2, 3, 40, 32], 11), values([2, 3, 50, 32], 12).transpose([0, 1, 3, 2])),
  "attention values": () => np.matmul(values([2, 3, 40, 50], 13), values([2, 3, 50, 32], 14)),
  "matrix times vector": () => np.matmul(values([256, 512], 15), values([512], 16)),
  "vector times matrix (a decode step)": () => np.matmul(values([1, 512], 17), values([512, 384], 18)),
  "one row through a linear layer (x·Wᵀ)": () => np.matmul(values([1, 512], 31), values([384, 512], 32).transpose()),
  "a transposed matrix times a vector": () => np.matmul(values([512, 256], 33).transpose(), values([512, 1], 34)),
  "one row per batch entry": () => np.matmul(values([3, 1, 256], 35), values([3, 256, 192], 36)),
  "jit: scale and bias in the epilogue": () =>
    jit((x: Arr, w: Arr, b: Arr) => np.matmul(x, w.transpose()).mul(0.5).add(b))(
      values([48, 64], 19),
      values([72, 64], 20),
      values([72], 21),
    ),
  "jit: residual and gated activation": () =>
    jit((x: Arr, w: Arr, v: Arr, r: Arr) => {
      const up = np.matmul(x.ref, v);
      return nn.silu(np.matmul(x, w)).mul(up).add(r);
    })(values([32, 64], 22), values([64, 96], 23), values([64, 96], 24), values([32, 96], 25)),
  "jit: a masked input": () =>
    jit((x: Arr, mask: Arr, w: Arr) => np.matmul(x.mul(mask), w))(values([64, 96], 37), values([64, 96], 38), values([96, 80], 39)),
  "jit: elementwise ops on both operands": () =>
    jit((x: Arr, w: Arr) => np.matmul(np.tanh(x), w.mul(2).add(1)))(values([2, 48, 64], 40), values([64, 72], 41)),
  "gradient of a gated MLP (prologues in the backward pass)": () =>
    jit(
      grad((w1: Arr) => {
        const x = values([2, 32, 64], 42);
        return np
          .matmul(nn.silu(np.matmul(x, w1)), values([96, 48], 43))
          .mul(values([2, 32, 48], 44))
          .sum();
      }),
    )(values([64, 96], 45)),
  "gradient of attention with grouped heads and a LoRA projection": () =>
    jit(
      grad((a: Arr) => {
        // x [2, 32, 64] → k = x·W + (x·A)·B, reshaped to 2 heads and repeated for 4 query heads.
        const x = values([2, 32, 64], 46);
        const k = np.matmul(x.ref, values([64, 32], 47)).add(np.matmul(np.matmul(x, a), values([4, 32], 48)));
        const heads = np.repeat(k.reshape([2, 32, 2, 16]).transpose([0, 2, 1, 3]), 2, 1);
        const q = values([2, 4, 32, 16], 49);
        return np
          .matmul(q, heads.transpose([0, 1, 3, 2]))
          .mul(values([2, 4, 32, 32], 50))
          .sum();
      }),
    )(values([64, 4], 51)),
  "gradient with respect to the weight": () =>
    grad((w: Arr) =>
      np
        .matmul(values([32, 64], 26), w)
        .mul(values([32, 96], 30))
        .sum(),
    )(values([64, 96], 27)),
  "gradient with respect to the input": () => grad((x: Arr) => np.tanh(np.matmul(x, values([64, 96], 28))).sum())(values([32, 64], 29)),
};

type Result = { data: Float32Array; calls: number; materialized: number };

async function runAll(): Promise<Map<string, Result>> {
  const results = new Map<string, Result>();
  for (const [name, build] of Object.entries(cases)) {
    const before = nativeMatmulStatus();
    const data = (await build().data()) as Float32Array;
    const after = nativeMatmulStatus();
    results.set(name, { data, calls: after.calls - before.calls, materialized: after.materialized - before.materialized });
  }
  return results;
}

const built = existsSync(NATIVE_ADDON_PATH);
if (!built) console.warn(`skipping the native matmul tests: ${NATIVE_ADDON_PATH} is not built (npm run build:native)`);

describe.skipIf(!built)("native matmul (OpenBLAS on the wasm memory)", () => {
  it("gives the wasm kernels' results, and runs each product natively", async () => {
    installNativeMatmul(2, { required: true });
    const native = await runAll();
    uninstallNativeMatmul();
    const wasm = await runAll();
    installNativeMatmul(2, { required: true });
    for (const [name, { data, calls, materialized }] of native) {
      const reference = wasm.get(name)?.data as Float32Array;
      expect(data.length, name).toBe(reference.length);
      let worst = 0;
      let scale = 0;
      data.forEach((x, i) => {
        const y = reference[i] ?? Number.NaN;
        worst = Math.max(worst, Math.abs(x - y));
        scale = Math.max(scale, Math.abs(y));
      });
      expect(worst / Math.max(scale, 1), name).toBeLessThan(1e-5);
      expect(calls, `${name}: products run natively`).toBeGreaterThan(0);
      if (name.includes("prologue")) expect(materialized, `${name}: an operand materialized first`).toBeGreaterThan(0);
      expect(wasm.get(name)?.calls, `${name}: with the hook removed`).toBe(0);
    }
  });

  it("says what it loaded, and names a missing addon", () => {
    expect(nativeMatmulStatus().detail).toMatch(/OpenBLAS/);
    expect(() => installNativeMatmul(2, { required: true, path: "/nonexistent/precept-blas.node" })).toThrow(
      /native matmul unavailable: \/nonexistent\/precept-blas.node is not built/,
    );
    expect(installNativeMatmul(2, { path: "/nonexistent/precept-blas.node" }).active).toBe(false);
    expect(installNativeMatmul(2).active).toBe(true);
  });
});
