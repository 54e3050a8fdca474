/**
 * The losses against an independent PyTorch reimplementation of TRL's formulas
 * (test/fixtures/losses/make_fixtures.py, run once; its float64 output is
 * losses.json). Loss, every metric and the gradient with respect to the
 * policy log-probs must agree to 1e-6. No Python runs here.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type Array as JaxArray, numpy as np, valueAndGrad } from "../engine/jax.js";
import { readNumber } from "../engine/ownership.js";
import { cpoLoss, dpoLoss, grpoLoss, ktoLoss, type LossOutput, orpoLoss } from "./losses.js";

type Case = {
  name: string;
  inputs: Record<string, number | number[] | number[][] | null>;
  options: Record<string, unknown>;
  loss: number;
  metrics: Record<string, number>;
  grad: number[] | number[][];
};
const fixtures = JSON.parse(readFileSync(new URL("../../test/fixtures/losses/losses.json", import.meta.url), "utf8")) as Record<
  string,
  Case[]
>;

const TOLERANCE = 1e-6;
const f64 = (x: number | number[] | number[][]) => np.array(x as number[], { dtype: np.float64 });
const flat = (x: number[] | number[][]): number[] => (x as (number | number[])[]).flat() as number[];

/** Runs `loss` on the case's inputs, differentiating by `wrt`, and checks loss, metrics and gradient; returns the largest error. */
async function check(c: Case, wrt: string, loss: (x: Record<string, JaxArray>, options: never) => LossOutput): Promise<number> {
  const f = valueAndGrad(
    (main: JaxArray) => {
      const arrays: Record<string, JaxArray> = { [wrt]: main };
      for (const [name, value] of Object.entries(c.inputs)) if (name !== wrt && value !== null) arrays[name] = f64(value);
      const out = loss(arrays, c.options as never);
      return [out.loss, out.metrics];
    },
    { hasAux: true },
  );
  const [[value, metrics], grad] = f(f64(c.inputs[wrt] as number[])) as [[JaxArray, Record<string, JaxArray>], JaxArray];
  let worst = Math.abs((await readNumber(value)) - c.loss);
  const names = Object.keys(metrics).sort();
  expect(names, c.name).toEqual(Object.keys(c.metrics).sort());
  for (const name of names) {
    const got = await readNumber(metrics[name] as JaxArray);
    worst = Math.max(worst, Math.abs(got - (c.metrics[name] as number)));
    expect(got, `${c.name}: ${name}`).toBeCloseTo(c.metrics[name] as number, 6);
  }
  const g = Array.from((await grad.data()) as Float64Array);
  flat(c.grad).forEach((expected, i) => {
    worst = Math.max(worst, Math.abs((g[i] as number) - expected));
  });
  expect(worst, c.name).toBeLessThan(TOLERANCE);
  return worst;
}

const worstOf: Record<string, number> = {};
async function run(family: string, wrt: string, loss: (x: Record<string, JaxArray>, options: never) => LossOutput) {
  const cases = fixtures[family] as Case[];
  expect(cases.length).toBeGreaterThan(0);
  for (const c of cases) worstOf[family] = Math.max(worstOf[family] ?? 0, await check(c, wrt, loss));
  console.log(`${family}: ${cases.length} fixture cases, max abs error ${worstOf[family]?.toExponential(2)}`);
}

describe("losses against the PyTorch reference (float64, 1e-6)", () => {
  it("GRPO: grpo, bnpo, dr_grpo, dapo; with and without β·k3 and clip-higher", async () => {
    await run("grpo", "logprobs", (x, options: object) =>
      grpoLoss({
        logprobs: x.logprobs as JaxArray,
        oldLogprobs: x.oldLogprobs as JaxArray,
        advantages: x.advantages as JaxArray,
        mask: x.mask as JaxArray,
        entropy: x.entropy as JaxArray,
        ...(x.refLogprobs ? { refLogprobs: x.refLogprobs } : {}),
        ...options,
      }),
    );
  });

  it("KTO: KL reference point from mismatched pairs, clamped at 0; desirable/undesirable weights", async () => {
    await run("kto", "policyLogps", (x, options: object) => ktoLoss({ ...(x as object), ...options } as never));
  });

  it("ORPO: NLL − β·mean log σ(log-odds ratio)", async () => {
    await run("orpo", "policyChosen", (x, options: object) => orpoLoss({ ...(x as object), ...options } as never));
  });

  it("CPO: sigmoid (with label smoothing), hinge, ipo, simpo (γ, with and without the NLL term)", async () => {
    await run("cpo", "policyChosen", (x, options: object) => cpoLoss({ ...(x as object), ...options } as never));
  });

  it("DPO: sigmoid, cDPO, robust, hinge, ipo", async () => {
    await run("dpo", "policyChosen", (x, options: object) => dpoLoss({ ...(x as object), ...options } as never));
  });
});
