import { describe, expect, it } from "vitest";
import { gradCheck, projection, randomInputs } from "../../test/helpers/grad-check.js";
import { type Array as JaxArray, lax, numpy as np } from "./jax.js";
import {
  attention,
  causalMask,
  conv1d,
  crossEntropy,
  embedding,
  embeddingOneHot,
  geluTanh,
  layerNorm,
  linear,
  maskedSoftmax,
  rmsNorm,
  silu,
  tokenLogProbs,
} from "./nn.js";
import { readFloats, readNumber } from "./ownership.js";

/** sum(out · R): a scalar whose gradient reaches every output element. */
function project(out: JaxArray, seed = 99): JaxArray {
  return out.ref.mul(projection(seed, out.shape)).sum();
}

async function expectGradientsMatch(f: Parameters<typeof gradCheck>[0], inputs: Parameters<typeof gradCheck>[1]) {
  const { mismatches, checked, gradientNorm } = await gradCheck(f, inputs);
  expect(checked).toBeGreaterThan(0);
  expect(gradientNorm).toBeGreaterThan(1e-3); // a zero gradient would pass trivially
  expect(mismatches).toEqual([]);
}

describe("finite-difference gradient checks (float64)", () => {
  it("the check itself catches a wrong gradient", async () => {
    // x · stopGradient(x): the true derivative is 2x, jax-js is told it is x.
    const { mismatches, checked } = await gradCheck(
      ({ x }) => project((x as JaxArray).ref.mul(lax.stopGradient(x as JaxArray))),
      randomInputs(0, { x: [6] }),
    );
    expect(mismatches.length).toBe(checked);
  });

  it("embedding lookup (repeated ids accumulate)", async () => {
    const ids = [
      [0, 3, 3],
      [4, 0, 1],
    ];
    await expectGradientsMatch(
      ({ w }) => project(embedding(w as JaxArray, np.array(ids, { dtype: np.int32 }))),
      randomInputs(1, { w: [5, 4] }),
    );
  });

  it("embedding as a one-hot matmul equals the gather, gradient included", async () => {
    const ids = [
      [0, 3, 3],
      [4, 0, 1],
    ];
    await expectGradientsMatch(
      ({ w }) => project(embeddingOneHot(w as JaxArray, np.array(ids, { dtype: np.int32 }))),
      randomInputs(1, { w: [5, 4] }),
    );
    const w = np.arange(20).astype(np.float32).reshape([5, 4]);
    const gathered = await readFloats(embedding(w.ref, np.array(ids, { dtype: np.int32 })));
    expect(await readFloats(embeddingOneHot(w, np.array(ids, { dtype: np.int32 })))).toEqual(gathered);
  });

  it("matmul", async () => {
    await expectGradientsMatch(
      ({ a, b }) => project(np.matmul(a as JaxArray, b as JaxArray)),
      randomInputs(2, { a: [2, 3, 4], b: [4, 5] }),
    );
  });

  it("linear ([out, in] weight) and conv1d ([in, out] weight)", async () => {
    await expectGradientsMatch(
      ({ x, w, b }) => project(linear(x as JaxArray, w as JaxArray, b as JaxArray)),
      randomInputs(3, { x: [2, 3, 4], w: [5, 4], b: [5] }),
    );
    await expectGradientsMatch(
      ({ x, w, b }) => project(conv1d(x as JaxArray, w as JaxArray, b as JaxArray)),
      randomInputs(4, { x: [2, 3, 4], w: [4, 5], b: [5] }),
    );
  });

  it("layer norm", async () => {
    await expectGradientsMatch(
      ({ x, g, b }) => project(layerNorm(x as JaxArray, g as JaxArray, b as JaxArray)),
      randomInputs(5, { x: [2, 3, 6], g: [6], b: [6] }),
    );
  });

  it("RMS norm", async () => {
    await expectGradientsMatch(({ x, g }) => project(rmsNorm(x as JaxArray, g as JaxArray)), randomInputs(6, { x: [2, 3, 6], g: [6] }));
  });

  it("GELU (tanh) and SiLU", async () => {
    await expectGradientsMatch(({ x }) => project(geluTanh(x as JaxArray)), randomInputs(7, { x: [3, 8] }, 2));
    await expectGradientsMatch(({ x }) => project(silu(x as JaxArray)), randomInputs(8, { x: [3, 8] }, 2));
  });

  it("softmax with a causal mask", async () => {
    await expectGradientsMatch(({ s }) => project(maskedSoftmax(s as JaxArray, causalMask(5))), randomInputs(9, { s: [2, 5, 5] }));
  });

  it("attention with a causal mask", async () => {
    await expectGradientsMatch(
      ({ q, k, v }) => project(attention(q as JaxArray, k as JaxArray, v as JaxArray, causalMask(4))),
      randomInputs(10, { q: [1, 2, 4, 3], k: [1, 2, 4, 3], v: [1, 2, 4, 3] }),
    );
  });

  it("log-softmax with target gather", async () => {
    const targets = [
      [1, 0, 4],
      [2, 2, 3],
    ];
    await expectGradientsMatch(
      ({ logits }) => project(tokenLogProbs(logits as JaxArray, np.array(targets, { dtype: np.int32 }))),
      randomInputs(11, { logits: [2, 3, 5] }),
    );
  });

  it("cross-entropy with ignore-index", async () => {
    const targets = [
      [-100, 0, 4],
      [2, -100, 3],
    ];
    await expectGradientsMatch(
      ({ logits }) => crossEntropy(logits as JaxArray, np.array(targets, { dtype: np.int32 })),
      randomInputs(12, { logits: [2, 3, 5] }),
    );
  });
});

describe("building blocks against hand-computed values", () => {
  it("cross-entropy averages only the kept tokens", async () => {
    // Two tokens kept: uniform logits over 4 classes → −log(1/4); logits [ln 3, 0, 0, 0] with target 0 → −log(3/6).
    const logits = np.array(
      [
        [
          [0, 0, 0, 0],
          [Math.log(3), 0, 0, 0],
          [5, -5, 2, 1],
        ],
      ],
      { dtype: np.float64 },
    );
    const loss = await readNumber(crossEntropy(logits, np.array([[1, 0, -100]], { dtype: np.int32 })));
    expect(loss).toBeCloseTo((Math.log(4) + Math.log(2)) / 2, 6);
    const none = await readNumber(crossEntropy(np.zeros([1, 2, 3], { dtype: np.float64 }), np.array([[-100, -100]], { dtype: np.int32 })));
    expect(none).toBe(0);
  });

  it("GELU (tanh) matches the formula at known points", async () => {
    // 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) evaluated by hand for x = 1, −2.
    const values = await readFloats(geluTanh(np.array([0, 1, -2], { dtype: np.float32 })));
    expect(values[0]).toBe(0);
    expect(values[1]).toBeCloseTo(0.8411919906, 5);
    expect(values[2]).toBeCloseTo(-0.0454023059, 5);
  });

  it("layer norm gives zero mean and unit variance before the affine part", async () => {
    const out = await readFloats(layerNorm(np.array([[1, 2, 3, 4]]), np.ones([4]), np.zeros([4]), 0));
    const mean = out.reduce((a, b) => a + b, 0) / 4;
    const variance = out.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
    expect(mean).toBeCloseTo(0, 6);
    expect(variance).toBeCloseTo(1, 5);
  });

  it("a fully masked softmax row is uniform, not NaN", async () => {
    const mask = np.array([[false, false, false]]);
    const out = await readFloats(maskedSoftmax(np.array([[1, 2, 3]]), mask));
    expect([...out].map((v) => Number(v.toFixed(6)))).toEqual([0.333333, 0.333333, 0.333333]);
  });

  it("causal mask lets a decode step see the whole prefix", async () => {
    const full = (await causalMask(3).data()) as Int32Array | Uint8Array;
    expect([...full].map(Number)).toEqual([1, 0, 0, 1, 1, 0, 1, 1, 1]);
    const step = (await causalMask(1, 4).data()) as Int32Array | Uint8Array;
    expect([...step].map(Number)).toEqual([1, 1, 1, 1]);
  });
});
