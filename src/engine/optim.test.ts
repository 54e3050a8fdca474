import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { clipByGlobalNorm, globalNorm } from "./clip.js";
import { type Array as JaxArray, numpy as np, valueAndGrad } from "./jax.js";
import { liveBuffers } from "./live-buffers.js";
import { adamw, type Optimizer, optimizerStateEntries, optimizerStateFromEntries, sgd } from "./optim.js";
import { readFloats, readNumber } from "./ownership.js";
import { Rng } from "./rng.js";
import { disposeTree, flattenNamed, normalInit, type ParamTree, treeRef } from "./tree.js";

type Fixture = {
  w0: number[];
  b0: number[];
  grads: { w: number[]; b: number[] }[];
  lrs: number[];
  adamw: { config: { beta1: number; beta2: number; eps: number; weightDecay: number }; steps: { w: number[]; b: number[] }[] };
  sgd: { config: { momentum: number; weightDecay: number }; steps: { w: number[]; b: number[] }[] };
  clip: { max_norm: number; grads: { w: number[]; b: number[] }; norm: number; clipped: { w: number[]; b: number[] } };
};
const fixture = JSON.parse(readFileSync(new URL("../../test/fixtures/engine/optim.json", import.meta.url), "utf8")) as Fixture;

const f64 = (values: number[], shape: number[]) => np.array(Float64Array.from(values), { dtype: np.float64 }).reshape(shape);
const tree = (w: number[], b: number[]): ParamTree => ({ layer: { weight: f64(w, [2, 3]), bias: f64(b, [3]) } });

async function leaf(t: ParamTree, name: string): Promise<number[]> {
  const found = flattenNamed(t).find(([n]) => n === name);
  if (!found) throw new Error(`no ${name}`);
  return [...((await found[1].ref.data()) as Float64Array)];
}

async function runAgainstTorch(optimizer: Optimizer, expected: { w: number[]; b: number[] }[]) {
  let params = tree(fixture.w0, fixture.b0);
  let state = optimizer.init(params);
  for (const [i, g] of fixture.grads.entries()) {
    ({ params, state } = optimizer.update(params, tree(g.w, g.b), state, fixture.lrs[i] as number));
    const want = expected[i] as { w: number[]; b: number[] };
    const w = await leaf(params, "layer.weight");
    const b = await leaf(params, "layer.bias");
    // jax-js keeps literal constants (β, ε, momentum) at float32 precision inside jit, so float64 runs agree to ~1e-9.
    for (const [j, v] of w.entries()) expect(v).toBeCloseTo(want.w[j] as number, 8);
    for (const [j, v] of b.entries()) expect(v).toBeCloseTo(want.b[j] as number, 8);
  }
  disposeTree(params);
  for (const slot of Object.values(state.slots)) disposeTree(slot);
}

describe("AdamW", () => {
  it("matches torch.optim.AdamW over 5 steps (weight decay on the matrix, not the bias)", async () => {
    await runAgainstTorch(adamw(fixture.adamw.config), fixture.adamw.steps);
  });

  it("first step by hand: bias-corrected m/√v is ±1, so p moves by lr against the gradient sign", async () => {
    // t = 1: m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε) ≈ lr·sign(g); decay multiplies p by (1 − lr·wd) first.
    const optimizer = adamw({ weightDecay: 0.5, eps: 0 });
    let params: ParamTree = { w: np.array([[2, -4]]) };
    let state = optimizer.init(params);
    ({ params, state } = optimizer.update(params, { w: np.array([[0.3, -7]]) }, state, 0.1));
    const p = await readFloats((params.w as JaxArray).ref);
    expect(p[0]).toBeCloseTo(2 * (1 - 0.05) - 0.1, 5); // 1.8
    expect(p[1]).toBeCloseTo(-4 * (1 - 0.05) + 0.1, 5); // −3.7
    // Second step with the same gradient: m̂ = g and v̂ = g² again, so the same ±lr move.
    ({ params, state } = optimizer.update(params, { w: np.array([[0.3, -7]]) }, state, 0.1));
    const q = await readFloats((params.w as JaxArray).ref);
    expect(q[0]).toBeCloseTo(1.8 * 0.95 - 0.1, 5);
    expect(q[1]).toBeCloseTo(-3.7 * 0.95 + 0.1, 5);
    expect(state.step).toBe(2);
    disposeTree(params);
    for (const slot of Object.values(state.slots)) disposeTree(slot);
  });

  it("state round-trips through named entries", async () => {
    const optimizer = adamw();
    let params: ParamTree = { a: { weight: np.ones([2, 2]) } };
    let state = optimizer.init(params);
    ({ params, state } = optimizer.update(params, { a: { weight: np.ones([2, 2]) } }, state, 0.01));
    const entries = optimizerStateEntries(state);
    expect(entries.map(([n]) => n)).toEqual(["exp_avg.a.weight", "exp_avg_sq.a.weight"]);
    const restored = optimizerStateFromEntries(optimizer, state.step, entries);
    // After one step with g = 1: exp_avg = (1 − β1)·g = 0.1.
    for (const m of await readFloats(((restored.slots.exp_avg as ParamTree).a as ParamTree).weight as JaxArray))
      expect(m).toBeCloseTo(0.1, 6);
    expect(() => optimizerStateFromEntries(optimizer, 1, [["momentum_buffer.a.weight", np.ones([1])]])).toThrow(
      /unknown slot "momentum_buffer"/,
    );
    expect(() => optimizerStateFromEntries(optimizer, 1, [])).toThrow(/slot "exp_avg" is missing/);
    disposeTree(params);
    disposeTree(restored.slots.exp_avg_sq);
  });

  it("mixed float64/float32 trees with and without decay follow torch's formula for each leaf over 3 steps", async () => {
    // The step's scalars are shared per dtype and decay: a float64 leaf must not get float32 ones, nor a bias the decay.
    const config = { beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 };
    const start = { a: [0.5, -1.25, 2, 0.75, -0.5, 1], b: [0.3, -0.2, 0.1], c: [1, -2, 3, -4] };
    const grads = [
      { a: [0.1, -0.4, 0.2, 0.05, -0.3, 0.9], b: [1, -1, 0.5], c: [0.2, 0.1, -0.3, 0.7] },
      { a: [-0.2, 0.1, 0.3, -0.6, 0.4, 0.2], b: [0.5, 0.25, -2], c: [-0.1, 0.4, 0.2, -0.5] },
      { a: [0.3, 0.3, -0.1, 0.2, 0.1, -0.7], b: [-0.3, 0.6, 0.2], c: [0.5, -0.2, 0.1, 0.3] },
    ];
    const lrs = [0.1, 0.05, 0.02];
    const arrays = (x: typeof start): ParamTree => ({
      a: f64(x.a, [2, 3]),
      b: np.array(Float32Array.from(x.b)),
      c: np.array(Float32Array.from(x.c)).reshape([2, 2]),
    });
    const optimizer = adamw(config);
    let params = arrays(start);
    let state = optimizer.init(params);
    // torch.optim.AdamW, one leaf, in float64.
    const expected = { a: [...start.a], b: [...start.b], c: [...start.c] };
    const moments = Object.fromEntries(Object.entries(start).map(([k, x]) => [k, { m: x.map(() => 0), v: x.map(() => 0) }]));
    for (const [i, g] of grads.entries()) {
      const lr = lrs[i] as number;
      const t = i + 1;
      ({ params, state } = optimizer.update(params, arrays(g), state, lr));
      for (const key of ["a", "b", "c"] as const) {
        const { m, v } = moments[key] as { m: number[]; v: number[] };
        const wd = key === "b" ? 0 : config.weightDecay;
        expected[key] = expected[key].map((p, j) => {
          const gj = g[key][j] as number;
          m[j] = config.beta1 * (m[j] as number) + (1 - config.beta1) * gj;
          v[j] = config.beta2 * (v[j] as number) + (1 - config.beta2) * gj * gj;
          const denom = Math.sqrt(v[j] as number) / Math.sqrt(1 - config.beta2 ** t) + config.eps;
          return p * (1 - lr * wd) - (lr / (1 - config.beta1 ** t)) * ((m[j] as number) / denom);
        });
        const got = [...((await (params[key] as JaxArray).ref.data()) as Float32Array | Float64Array)];
        for (const [j, value] of got.entries()) {
          expect(Math.abs(value - (expected[key][j] as number)), `step ${t} ${key}[${j}]`).toBeLessThan(key === "a" ? 1e-12 : 1e-6);
        }
      }
    }
    expect([(params.a as JaxArray).dtype, (params.b as JaxArray).dtype, (params.c as JaxArray).dtype]).toEqual([
      np.float64,
      np.float32,
      np.float32,
    ]);
    disposeTree(params);
    for (const slot of Object.values(state.slots)) disposeTree(slot);
  });

  it("names the parameter a gradient is missing for", () => {
    const optimizer = adamw();
    const params: ParamTree = { a: np.ones([2]), b: np.ones([2]) };
    const state = optimizer.init(params);
    expect(() => optimizer.update(params, { a: np.ones([2]) }, state, 0.1)).toThrow(/gradient tree has no entry for parameter "b"/);
  });
});

describe("SGD", () => {
  it("matches torch.optim.SGD with momentum and weight decay over 5 steps", async () => {
    await runAgainstTorch(sgd(fixture.sgd.config), fixture.sgd.steps);
  });

  it("plain SGD by hand: p ← p − lr·g", async () => {
    const optimizer = sgd();
    const { params } = optimizer.update({ w: np.array([1, 2]) }, { w: np.array([10, -10]) }, optimizer.init({ w: np.zeros([2]) }), 0.01);
    expect([...(await readFloats(params.w as JaxArray))]).toEqual([Math.fround(0.9), Math.fround(2.1)]);
  });
});

describe("global-norm clipping", () => {
  it("matches torch.nn.utils.clip_grad_norm_", async () => {
    const { grads, norm } = clipByGlobalNorm(tree(fixture.clip.grads.w, fixture.clip.grads.b), fixture.clip.max_norm);
    expect(await readNumber(norm)).toBeCloseTo(fixture.clip.norm, 6);
    const w = await leaf(grads, "layer.weight");
    for (const [j, v] of w.entries()) expect(v).toBeCloseTo(fixture.clip.clipped.w[j] as number, 6);
    disposeTree(grads);
  });

  it("leaves gradients below the limit unchanged", async () => {
    const { grads, norm } = clipByGlobalNorm({ g: np.array([3, 4]) }, 10);
    expect(await readNumber(norm)).toBeCloseTo(5, 6);
    expect([...(await readFloats(grads.g as JaxArray))]).toEqual([3, 4]);
    expect(await readNumber(globalNorm({ a: np.array([1, 2, 2]) }))).toBeCloseTo(3, 6);
  });
});

describe("ownership", () => {
  it("200 AdamW steps on a small MLP: live buffers stay flat and the loss falls", async () => {
    const rng = new Rng(3);
    const x = np.array(rng.normalArray(32 * 8)).reshape([32, 8]);
    const y = np.array(rng.normalArray(32 * 2)).reshape([32, 2]);
    let params: ParamTree = {
      fc1: { weight: normalInit(rng, [8, 16], 0.3), bias: np.zeros([16]) },
      fc2: { weight: normalInit(rng, [16, 2], 0.3), bias: np.zeros([2]) },
    };
    const loss = (p: ParamTree, inputs: JaxArray, targets: JaxArray): JaxArray => {
      const fc1 = p.fc1 as ParamTree;
      const fc2 = p.fc2 as ParamTree;
      const h = np.tanh(np.matmul(inputs, fc1.weight as JaxArray).add(fc1.bias as JaxArray));
      const out = np.matmul(h, fc2.weight as JaxArray).add(fc2.bias as JaxArray);
      return np.square(out.sub(targets)).mean();
    };
    const step = valueAndGrad(loss);
    const optimizer = adamw({ weightDecay: 0.01 });
    let state = optimizer.init(params);
    const losses: number[] = [];
    const live: number[] = [];
    for (let i = 0; i < 200; i++) {
      const [value, grads] = step(treeRef(params), x.ref, y.ref);
      const clipped = clipByGlobalNorm(grads as ParamTree, 1.0);
      clipped.norm.dispose();
      ({ params, state } = optimizer.update(params, clipped.grads, state, 0.01));
      losses.push(await readNumber(value as JaxArray));
      live.push(liveBuffers());
    }
    expect(live[199]).toBe(live[9]);
    expect(Math.max(...live.slice(10))).toBe(live[9]);
    expect(losses[199]).toBeLessThan((losses[0] as number) * 0.5);
    x.dispose();
    y.dispose();
    disposeTree(params);
    for (const slot of Object.values(state.slots)) disposeTree(slot);
  });
});
