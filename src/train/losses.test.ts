import { describe, expect, it } from "vitest";
import { gradCheck, type Inputs } from "../../test/helpers/grad-check.js";
import { grad, type Array as JaxArray, jit, nn, numpy as np, valueAndGrad } from "../engine/jax.js";
import { expectNoLeak, readFloats, readNumber } from "../engine/ownership.js";
import {
  bradleyTerryLoss,
  dpoLoss,
  grpoLoss,
  type KLEstimator,
  klPenalty,
  type LossOutput,
  logSigmoid,
  ppoPolicyLoss,
  ppoValueLoss,
  sftLoss,
} from "./losses.js";

const arr = (values: number[] | number[][]) => np.array(values);
const f64 = (values: number[] | number[][]) => np.array(values, { dtype: np.float64 });

/** Reads the loss and every metric as numbers (consumes them). */
async function read(out: LossOutput): Promise<{ loss: number; metrics: Record<string, number> }> {
  const loss = await readNumber(out.loss);
  const metrics: Record<string, number> = {};
  for (const [name, value] of Object.entries(out.metrics)) {
    expect(value.shape, `metric ${name} is 0-d`).toEqual([]);
    metrics[name] = await readNumber(value);
  }
  return { loss, metrics };
}

/** The loss alone, for `grad`: the metrics are disposed. */
function lossOnly(out: LossOutput): JaxArray {
  for (const value of Object.values(out.metrics)) value.dispose();
  return out.loss;
}

function expectClose(actual: Record<string, number>, expected: Record<string, number>, digits = 5): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, value] of Object.entries(expected)) expect(actual[name], name).toBeCloseTo(value, digits);
}

async function expectGradientsMatch(f: (x: Record<string, JaxArray>) => JaxArray, inputs: Inputs): Promise<void> {
  const { mismatches, checked, gradientNorm } = await gradCheck(f, inputs);
  expect(mismatches).toEqual([]);
  expect(checked).toBeGreaterThan(0);
  expect(gradientNorm).toBeGreaterThan(1e-3);
}

describe("logSigmoid", () => {
  it("is finite and exact far out where nn.logSigmoid overflows", async () => {
    // log σ(−100) = −100 − log(1 + e^−100) ≈ −100; log σ(0) = −log 2 = −0.6931472;
    // log σ(0.5) = −log(1 + e^−0.5) = −0.4740770; log σ(100) ≈ −e^−100 ≈ 0.
    // log σ(−1000) = −1000 (e^1000 overflows even a float64, so log(1 + e^1000) is +Inf).
    const out = await readFloats(logSigmoid(arr([-1000, -100, 0, 0.5, 100])));
    expect(out[0]).toBeCloseTo(-1000, 3);
    expect(out[1]).toBeCloseTo(-100, 4);
    expect(out[2]).toBeCloseTo(-Math.LN2, 6);
    expect(out[3]).toBeCloseTo(-0.474077, 6);
    expect(out[4]).toBeCloseTo(0, 6);
    // The reason it exists: jax-js' own version, −log(1 + e^−x), gives −Inf there.
    expect((await readFloats(nn.logSigmoid(arr([-1000]))))[0]).toBe(Number.NEGATIVE_INFINITY);
  });

  it("has gradient σ(−x), 0.5 at exactly 0 (where DPO starts: policy = reference)", async () => {
    const g = await readFloats(grad((x: JaxArray) => logSigmoid(x).sum())(f64([-100, 0, 2, 100])));
    // σ(100) = 1, σ(0) = 0.5, σ(−2) = 1 / (1 + e^2) = 0.1192029, σ(−100) ≈ 0.
    expect(g[0]).toBeCloseTo(1, 6);
    expect(g[1]).toBeCloseTo(0.5, 6);
    expect(g[2]).toBeCloseTo(0.1192029, 6);
    expect(g[3]).toBeCloseTo(0, 6);
  });
});

describe("bradleyTerryLoss", () => {
  it("applies the margin and reports TRL's reward-model metrics", async () => {
    // Δ = r_c − r_r − margin: pair 1: 2 − 1.5 − 0 = 0.5 → −log σ(0.5) = 0.4740770;
    // pair 2: 0 − 1 − 0.5 = −1.5 → −log σ(−1.5) = log(1 + e^1.5) = 1.7014133. Mean 1.0877451.
    const out = await read(bradleyTerryLoss({ chosen: arr([2, 0]), rejected: arr([1.5, 1]), margin: arr([0, 0.5]) }));
    expect(out.loss).toBeCloseTo(1.0877451, 5);
    expectClose(out.metrics, {
      accuracy: 0.5, // 2 > 1.5 yes, 0 > 1 no
      margin: -0.25, // mean(0.5, −1): the margin input is not subtracted
      mean_reward: 1.125, // (2 + 0 + 1.5 + 1) / 4
      min_reward: 0,
      max_reward: 2,
    });
    // Without the margin, pair 2 has Δ = −1: −log σ(−1) = 1.3132617; mean (0.4740770 + 1.3132617) / 2 = 0.8936693.
    const plain = await read(bradleyTerryLoss({ chosen: arr([2, 0]), rejected: arr([1.5, 1]) }));
    expect(plain.loss).toBeCloseTo(0.8936693, 5);
  });

  it("takes soft labels: p = 0.5 at Δ = 0 is log 2, p = 1 is the hard loss", async () => {
    // Pair 1: Δ = 0, p = 0.5: −[0.5·log σ(0) + 0.5·log σ(0)] = log 2 = 0.6931472.
    // Pair 2: Δ = 1, p = 0.8: −[0.8·log σ(1) + 0.2·log σ(−1)] = 0.8·0.3132617 + 0.2·1.3132617 = 0.5132617.
    // Mean 0.6032044.
    const soft = await read(bradleyTerryLoss({ chosen: arr([1, 1]), rejected: arr([1, 0]), label: arr([0.5, 0.8]) }));
    expect(soft.loss).toBeCloseTo(0.6032044, 5);
    // p = 1 everywhere: −log σ(0) = 0.6931472 and −log σ(1) = 0.3132617, mean 0.5032044.
    const hard = await read(bradleyTerryLoss({ chosen: arr([1, 1]), rejected: arr([1, 0]), label: arr([1, 1]) }));
    expect(hard.loss).toBeCloseTo(0.5032044, 5);
    // p = 0 flips the preference: −log σ(−1) = 1.3132617 for pair 2, mean (0.6931472 + 1.3132617) / 2 = 1.0032044.
    const flipped = await read(bradleyTerryLoss({ chosen: arr([1, 1]), rejected: arr([1, 0]), label: arr([0, 0]) }));
    expect(flipped.loss).toBeCloseTo(1.0032044, 5);
  });

  it("adds the centering term coef·mean((r_c + r_r)²)", async () => {
    // Δ = [1, 0]: losses 0.3132617 and 0.6931472, mean 0.5032044.
    // (r_c + r_r)² = [(1 + 0)², (−1 − 1)²] = [1, 4], mean 2.5; × 0.01 = 0.025. Total 0.5282044.
    const out = await read(bradleyTerryLoss({ chosen: arr([1, -1]), rejected: arr([0, -1]), centerCoef: 0.01 }));
    expect(out.loss).toBeCloseTo(0.5282044, 5);
  });

  it("has the gradient of finite differences (margin, soft label, centering)", async () => {
    const inputs: Inputs = {
      chosen: { shape: [3], data: Float64Array.from([0.3, -1.2, 2.0]) },
      rejected: { shape: [3], data: Float64Array.from([0.9, -0.4, 0.5]) },
    };
    await expectGradientsMatch(
      ({ chosen, rejected }) =>
        lossOnly(
          bradleyTerryLoss({
            chosen: chosen as JaxArray,
            rejected: rejected as JaxArray,
            margin: f64([0.1, 0, 0.7]),
            label: f64([0.9, 0.6, 0.3]),
            centerCoef: 0.05,
          }),
        ),
      inputs,
    );
  });
});

describe("dpoLoss", () => {
  // Log-ratios π − ref: chosen [−10 − (−11), −8 − (−8)] = [1, 0]; rejected [−12 − (−11), −7 − (−8.5)] = [−1, 1.5].
  // Δ = [1 − (−1), 0 − 1.5] = [2, −1.5]; β = 0.1 → βΔ = [0.2, −0.15].
  const batch = () => ({
    policyChosen: arr([-10, -8]),
    policyRejected: arr([-12, -7]),
    refChosen: arr([-11, -8]),
    refRejected: arr([-11, -8.5]),
  });
  const metrics = {
    "rewards/chosen": 0.05, // β·[1, 0] → mean 0.05
    "rewards/rejected": 0.025, // β·[−1, 1.5] = [−0.1, 0.15] → mean 0.025
    "rewards/accuracies": 0.5, // 0.1 > −0.1 yes; 0 > 0.15 no
    "rewards/margins": 0.025, // mean(0.1 − (−0.1), 0 − 0.15) = mean(0.2, −0.15)
    "logps/chosen": -9, // mean(−10, −8)
    "logps/rejected": -9.5, // mean(−12, −7)
  };

  it("sigmoid: −log σ(βΔ) with TRL's metrics", async () => {
    // −log σ(0.2) = 0.5981389; −log σ(−0.15) = log(1 + e^0.15) = 0.7709570; mean 0.6845480.
    const out = await read(dpoLoss({ ...batch(), beta: 0.1 }));
    expect(out.loss).toBeCloseTo(0.684548, 5);
    expectClose(out.metrics, metrics);
  });

  it("cDPO: −(1−ε)·log σ(βΔ) − ε·log σ(−βΔ)", async () => {
    // ε = 0.1. Pair 1: 0.9·0.5981389 + 0.1·(−log σ(−0.2) = 0.7981389) = 0.6181389.
    // Pair 2: 0.9·0.7709570 + 0.1·(−log σ(0.15) = 0.6209570) = 0.7559570. Mean 0.6870480.
    const out = await read(dpoLoss({ ...batch(), beta: 0.1, labelSmoothing: 0.1 }));
    expect(out.loss).toBeCloseTo(0.687048, 5);
    expectClose(out.metrics, metrics);
  });

  it("ipo: (Δ − 1/(2β))² on averaged log-probs", async () => {
    // 1/(2β) = 5: (2 − 5)² = 9, (−1.5 − 5)² = 42.25, mean 25.625.
    const out = await read(dpoLoss({ ...batch(), beta: 0.1, lossType: "ipo" }));
    expect(out.loss).toBeCloseTo(25.625, 4);
    expectClose(out.metrics, metrics);
  });

  it("is log 2 with gradient −β/2 per pair at the start (policy = reference)", async () => {
    // Δ = 0: loss −log σ(0) = log 2; dL/dπ_c = −β·σ(−βΔ)/B = −0.1·0.5/2 = −0.025, dL/dπ_r = +0.025.
    const f = (pc: JaxArray, pr: JaxArray) =>
      lossOnly(dpoLoss({ policyChosen: pc, policyRejected: pr, refChosen: f64([-3, -4]), refRejected: f64([-5, -6]) }));
    const [value, [gc, gr]] = valueAndGrad(f, { argnums: [0, 1] })(f64([-3, -4]), f64([-5, -6])) as [JaxArray, [JaxArray, JaxArray]];
    expect(await readNumber(value)).toBeCloseTo(Math.LN2, 6);
    expect(Array.from(await readFloats(gc))).toEqual([expect.closeTo(-0.025, 6), expect.closeTo(-0.025, 6)]);
    expect(Array.from(await readFloats(gr))).toEqual([expect.closeTo(0.025, 6), expect.closeTo(0.025, 6)]);
  });

  it("has the gradient of finite differences (cDPO and IPO)", async () => {
    const inputs: Inputs = {
      policyChosen: { shape: [3], data: Float64Array.from([-10.2, -7.9, -15]) },
      policyRejected: { shape: [3], data: Float64Array.from([-12.5, -7.1, -14]) },
    };
    for (const options of [
      { lossType: "sigmoid" as const, labelSmoothing: 0.2, beta: 0.5 },
      { lossType: "ipo" as const, beta: 0.2 },
    ]) {
      await expectGradientsMatch(
        ({ policyChosen, policyRejected }) =>
          lossOnly(
            dpoLoss({
              policyChosen: policyChosen as JaxArray,
              policyRejected: policyRejected as JaxArray,
              refChosen: f64([-11, -8, -14.2]),
              refRejected: f64([-11, -8.5, -13]),
              ...options,
            }),
          ),
        inputs,
      );
    }
  });

  it("rejects label smoothing with IPO and a non-positive beta", () => {
    expect(() => dpoLoss({ ...batch(), lossType: "ipo", labelSmoothing: 0.1 })).toThrow(/sigmoid and robust losses only/);
    expect(() => dpoLoss({ ...batch(), beta: 0 })).toThrow(/beta must be > 0/);
  });
});

describe("sftLoss", () => {
  it("is the mean NLL over real tokens, 0 when there are none", async () => {
    // Real tokens: −1, −2 (row 0) and −0.5 (row 1): (1 + 2 + 0.5) / 3 = 1.1666667. The −9s are padding.
    const out = await read(
      sftLoss(
        arr([
          [-1, -2, -9],
          [-0.5, -9, -9],
        ]),
        arr([
          [1, 1, 0],
          [1, 0, 0],
        ]),
      ),
    );
    expect(out.loss).toBeCloseTo(1.1666667, 5);
    expect(out.metrics).toEqual({});
    const bool = await read(
      sftLoss(
        arr([
          [-1, -2, -9],
          [-0.5, -9, -9],
        ]),
        np.array([
          [true, true, false],
          [true, false, false],
        ]),
      ),
    );
    expect(bool.loss).toBeCloseTo(1.1666667, 5);
    expect((await read(sftLoss(arr([[-1, -2]]), arr([[0, 0]])))).loss).toBe(0);
  });
});

describe("ppoPolicyLoss", () => {
  // Three real tokens (ε = 0.2) and one padding token full of garbage:
  //  a: ρ = 1.5 (log-ratio ln 1.5), A = 1:  −Aρ = −1.5, −A·clip(ρ) = −1.2 → max −1.2 (the clipped term: counted in clipfrac)
  //  b: ρ = e^0.1 = 1.1051709, A = −2: −Aρ = 2.2103418 = −A·clip(ρ) (inside the range) → 2.2103418, not clipped
  //  c: ρ = 0.5 (below 1 − ε), A = 1: −Aρ = −0.5, −A·clip(ρ) = −0.8 → max −0.5, the unclipped term
  //  loss = (−1.2 + 2.2103418 − 0.5) / 3 = 0.1701139; clipfrac = 1/3.
  //  approxkl = 0.5·mean((ln 1.5)², 0.1², (ln 0.5)²) = 0.5·(0.1644020 + 0.01 + 0.4804530) / 3 = 0.1091425.
  //  ratio = (1.5 + 1.1051709 + 0.5) / 3 = 1.0350570.
  const old = [
    [-1, -2],
    [-1, -50],
  ];
  const logp = (garbage: number) => [
    [-1 + Math.log(1.5), -1.9],
    [-1 + Math.log(0.5), garbage],
  ];
  const advantages = (garbage: number) => [
    [1, -2],
    [1, garbage],
  ];
  const mask = [
    [1, 1],
    [1, 0],
  ];

  it("clips one token, not the other two, and reports TRL's metrics", async () => {
    const out = await read(
      ppoPolicyLoss({ logprobs: arr(logp(3)), oldLogprobs: arr(old), advantages: arr(advantages(7)), mask: arr(mask), clipRange: 0.2 }),
    );
    expect(out.loss).toBeCloseTo(0.1701139, 5);
    expectClose(out.metrics, { "policy/approxkl_avg": 0.1091425, "policy/clipfrac_avg": 1 / 3, "val/ratio": 1.035057 });
  });

  it("has gradient −A·ρ/N on unclipped tokens and 0 on clipped and masked ones", async () => {
    // dL/dlogp = ∂(−Aρ)/∂logp / 3 = −A·ρ/3 where the unclipped term is taken:
    // a: 0 (clipped), b: 2·1.1051709/3 = 0.7367806, c: −1·0.5/3 = −0.1666667, padding: 0.
    const g = await readFloats(
      grad((lp: JaxArray) =>
        lossOnly(ppoPolicyLoss({ logprobs: lp, oldLogprobs: f64(old), advantages: f64(advantages(7)), mask: f64(mask) })),
      )(f64(logp(3))),
    );
    expect(Array.from(g)).toEqual([
      expect.closeTo(0, 6),
      expect.closeTo(0.7367806, 6),
      expect.closeTo(-0.1666667, 6),
      expect.closeTo(0, 6),
    ]);
  });

  it("ignores whatever masked tokens hold, in the loss and in the gradient", async () => {
    const run = async (garbageLogp: number, garbageAdvantage: number) => {
      const [[loss, metrics], g] = valueAndGrad(
        (lp: JaxArray) => {
          const out = ppoPolicyLoss({
            logprobs: lp,
            oldLogprobs: f64(old),
            advantages: f64(advantages(garbageAdvantage)),
            mask: f64(mask),
          });
          return [out.loss, out.metrics];
        },
        { hasAux: true },
      )(f64(logp(garbageLogp))) as unknown as [[JaxArray, Record<string, JaxArray>], JaxArray];
      return { ...(await read({ loss, metrics })), grad: Array.from(await readFloats(g)) };
    };
    const reference = await run(-1, 0);
    for (const [lp, a] of [
      [80, 1e6],
      [-1e4, -3],
      [Number.NaN, Number.POSITIVE_INFINITY],
    ] as const) {
      const other = await run(lp, a);
      expect(other.loss).toBe(reference.loss);
      expect(other.metrics).toEqual(reference.metrics);
      expect(other.grad).toEqual(reference.grad);
    }
    // And a bool mask is the same as a float one.
    const bool = await read(
      ppoPolicyLoss({
        logprobs: arr(logp(3)),
        oldLogprobs: arr(old),
        advantages: arr(advantages(7)),
        mask: np.array([
          [true, true],
          [true, false],
        ]),
      }),
    );
    expect(bool.loss).toBeCloseTo(0.1701139, 5);
  });

  it("runs under jit(valueAndGrad) with the metrics as aux, and leaks nothing", async () => {
    const step = jit(
      valueAndGrad(
        (lp: JaxArray, o: JaxArray, a: JaxArray, m: JaxArray) => {
          const out = ppoPolicyLoss({ logprobs: lp, oldLogprobs: o, advantages: a, mask: m });
          return [out.loss, out.metrics];
        },
        { hasAux: true },
      ),
    );
    const run = async () => {
      const [[loss, metrics], g] = step(arr(logp(3)), arr(old), arr(advantages(7)), arr(mask)) as unknown as [
        [JaxArray, Record<string, JaxArray>],
        JaxArray,
      ];
      const out = await read({ loss, metrics });
      expect(out.loss).toBeCloseTo(0.1701139, 5);
      expect(out.metrics["policy/clipfrac_avg"]).toBeCloseTo(1 / 3, 5);
      expect((await readFloats(g))[1]).toBeCloseTo(0.7367806, 5);
    };
    await run(); // the first call compiles (and keeps its constants)
    await expectNoLeak("jitted ppo step", async () => {
      for (let i = 0; i < 3; i++) await run();
    });
    step.dispose();
  });
});

describe("ppoValueLoss", () => {
  it("takes the larger of the clipped and unclipped squared errors", async () => {
    // ε_v = 0.2.
    //  a: v = 1, v_old = 0.5, R = 2: clip(v) = 0.7; (1 − 2)² = 1 < (0.7 − 2)² = 1.69 → 1.69, clipped term
    //  b: v = 0.6, v_old = 0.5, R = 0: clip(v) = 0.6 (inside); 0.36 = 0.36 → 0.36, not clipped
    //  c: v = 0, v_old = 1, R = 0: clip(v) = 0.8; 0 < 0.64 → 0.64, clipped term (moving toward R is capped too)
    //  loss = 0.5·(1.69 + 0.36 + 0.64) / 3 = 0.4483333; clipfrac = 2/3. The fourth token is padding.
    const out = await read(
      ppoValueLoss({
        values: arr([[1, 0.6, 0, 40]]),
        oldValues: arr([[0.5, 0.5, 1, -3]]),
        returns: arr([[2, 0, 0, 1e5]]),
        mask: arr([[1, 1, 1, 0]]),
        clipRangeValue: 0.2,
      }),
    );
    expect(out.loss).toBeCloseTo(0.4483333, 5);
    expectClose(out.metrics, { "val/clipfrac_avg": 2 / 3 });
  });

  it("passes the gradient (v − R)/N only through unclipped tokens", async () => {
    // d(0.5·(v − R)²/3)/dv = (v − R)/3: a is clipped → 0; b: (0.6 − 0)/3 = 0.2 (either term: they are equal);
    // c is clipped (constant 0.8) → 0; padding 0.
    const g = await readFloats(
      grad((v: JaxArray) =>
        lossOnly(
          ppoValueLoss({ values: v, oldValues: f64([[0.5, 0.5, 1, -3]]), returns: f64([[2, 0, 0, 1e5]]), mask: f64([[1, 1, 1, 0]]) }),
        ),
      )(f64([[1, 0.6, 0, 40]])),
    );
    expect(Array.from(g)).toEqual([expect.closeTo(0, 6), expect.closeTo(0.2, 6), expect.closeTo(0, 6), expect.closeTo(0, 6)]);
  });

  it("ignores NaN and Inf at masked positions, in the loss and in the gradient", async () => {
    const [[loss, metrics], g] = valueAndGrad(
      (v: JaxArray) => {
        const out = ppoValueLoss({
          values: v,
          oldValues: f64([[0.5, 0.5, 1, Number.NEGATIVE_INFINITY]]),
          returns: f64([[2, 0, 0, Number.POSITIVE_INFINITY]]),
          mask: f64([[1, 1, 1, 0]]),
        });
        return [out.loss, out.metrics];
      },
      { hasAux: true },
    )(f64([[1, 0.6, 0, Number.NaN]])) as unknown as [[JaxArray, Record<string, JaxArray>], JaxArray];
    const out = await read({ loss, metrics });
    expect(out.loss).toBeCloseTo(0.4483333, 6);
    expect(out.metrics["val/clipfrac_avg"]).toBeCloseTo(2 / 3, 6);
    expect(Array.from(await readFloats(g))).toEqual([0, expect.closeTo(0.2, 6), 0, 0]);
  });
});

describe("klPenalty", () => {
  it("k1 = logp − ref; k3 = e^(ref−logp) − (ref−logp) − 1", async () => {
    // logp = [−1, −2, −0.5], ref = [−1.5, −2, −0.2].
    // k1 = [0.5, 0, −0.3].
    expect(Array.from(await readFloats(klPenalty(arr([-1, -2, -0.5]), arr([-1.5, -2, -0.2]), "k1")))).toEqual([
      expect.closeTo(0.5, 6),
      expect.closeTo(0, 6),
      expect.closeTo(-0.3, 6),
    ]);
    // ref − logp = [−0.5, 0, 0.3]: k3 = [e^−0.5 + 0.5 − 1, 0, e^0.3 − 0.3 − 1] = [0.1065307, 0, 0.0498588].
    expect(Array.from(await readFloats(klPenalty(arr([-1, -2, -0.5]), arr([-1.5, -2, -0.2]), "k3")))).toEqual([
      expect.closeTo(0.1065307, 6),
      expect.closeTo(0, 6),
      expect.closeTo(0.0498588, 6),
    ]);
  });

  it("k3 is ≥ 0 everywhere and 0 when the log-probs are equal", async () => {
    const logp: number[] = [];
    const ref: number[] = [];
    for (let i = 0; i < 200; i++) {
      logp.push(-Math.abs(Math.sin(i * 1.7)) * 6);
      ref.push(-Math.abs(Math.cos(i * 0.9)) * 6);
    }
    const k3 = await readFloats(klPenalty(arr(logp), arr(ref), "k3"));
    for (const value of k3) expect(value).toBeGreaterThanOrEqual(0);
    const k1 = await readFloats(klPenalty(arr(logp), arr(ref), "k1"));
    expect(k1.some((v) => v < 0)).toBe(true); // k1 can go negative per token; that is why k3 exists
    const equal = await readFloats(klPenalty(arr(logp), arr(logp), "k3"));
    for (const value of equal) expect(value).toBe(0);
  });

  it("rejects an unknown estimator", () => {
    expect(() => klPenalty(arr([0]), arr([0]), "k2" as KLEstimator)).toThrow(/unknown estimator/);
  });
});

describe("grpoLoss", () => {
  // Two sequences of two tokens, ε = 0.2, advantages [1, −1] (per sequence):
  //  row 0: a: ρ = 1.5, A = 1 → −min(1.5, 1.2) = −1.2, clipped (ρ > 1 + ε, A > 0); k3 = 0 (ref = logp)
  //         b: ρ = 1,   A = 1 → −1; ref − logp = 0.5: k3 = e^0.5 − 0.5 − 1 = 0.1487213
  //  row 1: c: ρ = 0.5, A = −1 → −min(−0.5, −0.8) = 0.8, clipped (ρ < 1 − ε, A < 0); ref − logp = −0.2: k3 = 0.0187308
  //         d: padding.
  const old = [
    [-1, -2],
    [-1, -50],
  ];
  const logp = [
    [-1 + Math.log(1.5), -2],
    [-1 + Math.log(0.5), 17],
  ];
  const ref = [
    [-1 + Math.log(1.5), -1.5],
    [-1.2 + Math.log(0.5), -3],
  ];
  const inputs = () => ({
    logprobs: arr(logp),
    oldLogprobs: arr(old),
    advantages: arr([1, -1]),
    mask: arr([
      [1, 1],
      [1, 0],
    ]),
  });

  it("averages per sequence, then over sequences, with β·k3 added", async () => {
    // β = 0.04: a: −1.2; b: −1 + 0.04·0.1487213 = −0.9940511; c: 0.8 + 0.04·0.0187308 = 0.8007492.
    // Row means: (−1.2 − 0.9940511)/2 = −1.0970256 and 0.8007492; loss = mean = −0.1481382
    // (a mean over all three tokens would be −0.4644340).
    // kl = (0 + 0.1487213 + 0.0187308) / 3 = 0.0558173; clip_ratio = 2/3.
    const out = await read(grpoLoss({ ...inputs(), refLogprobs: arr(ref), beta: 0.04, clipRange: 0.2, lossType: "grpo" }));
    expect(out.loss).toBeCloseTo(-0.1481382, 5);
    expectClose(out.metrics, {
      kl: 0.0558173,
      "clip_ratio/low_mean": 1 / 3,
      "clip_ratio/high_mean": 1 / 3,
      "clip_ratio/region_mean": 2 / 3,
    });
  });

  it("with β = 0 needs no reference model", async () => {
    // ((−1.2 − 1)/2 + 0.8) / 2 = −0.15.
    const out = await read(grpoLoss({ ...inputs(), lossType: "grpo" }));
    expect(out.loss).toBeCloseTo(-0.15, 5);
    expectClose(out.metrics, { "clip_ratio/low_mean": 1 / 3, "clip_ratio/high_mean": 1 / 3, "clip_ratio/region_mean": 2 / 3 });
    expect(() => grpoLoss({ ...inputs(), beta: 0.1 })).toThrow(/needs refLogprobs/);
  });

  it("has the gradient of finite differences", async () => {
    const start: Inputs = { logprobs: { shape: [2, 2], data: Float64Array.from([-0.7, -2.1, -1.6, -3]) } };
    await expectGradientsMatch(
      ({ logprobs }) =>
        lossOnly(
          grpoLoss({
            logprobs: logprobs as JaxArray,
            oldLogprobs: f64(old),
            refLogprobs: f64(ref),
            advantages: f64([1, -1]),
            mask: f64([
              [1, 1],
              [1, 0],
            ]),
            beta: 0.3,
            lossType: "grpo",
          }),
        ),
      start,
    );
  });
});
