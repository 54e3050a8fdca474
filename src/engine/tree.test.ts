import { describe, expect, it } from "vitest";
import { type Array as JaxArray, numpy as np } from "./jax.js";
import { liveBuffers } from "./live-buffers.js";
import { readFloats } from "./ownership.js";
import { Rng } from "./rng.js";
import {
  countParams,
  disposeTree,
  flattenNamed,
  mapTree,
  normalInit,
  type ParamTree,
  treeFromHost,
  treeToHost,
  unflattenNamed,
} from "./tree.js";

describe("parameter trees", () => {
  it("flatten to Hugging Face style dotted names in a stable order, and back", () => {
    const tree: ParamTree = {
      wte: { weight: np.zeros([4, 2]) },
      h: { "0": { ln_1: { weight: np.ones([2]), bias: np.zeros([2]) } }, "1": { ln_1: { weight: np.ones([2]), bias: np.zeros([2]) } } },
    };
    const names = flattenNamed(tree).map(([n]) => n);
    expect(names).toEqual(["wte.weight", "h.0.ln_1.weight", "h.0.ln_1.bias", "h.1.ln_1.weight", "h.1.ln_1.bias"]);
    const rebuilt = unflattenNamed(flattenNamed(tree));
    expect(flattenNamed(rebuilt).map(([n]) => n)).toEqual(names);
    expect(countParams(tree)).toBe(8 + 4 * 2);
    expect(() =>
      unflattenNamed([
        ["a.b", np.zeros([1])],
        ["a.b", np.zeros([1])],
      ]),
    ).toThrow(/duplicate parameter name "a.b"/);
    expect(() =>
      unflattenNamed([
        ["a", np.zeros([1])],
        ["a.b", np.zeros([1])],
      ]),
    ).toThrow(/"a.b" is below a leaf/);
    disposeTree(tree);
  });

  it("map over several trees, consuming them and leaking nothing", async () => {
    const before = liveBuffers();
    const a: ParamTree = { x: np.array([1, 2]), y: { z: np.array([3]) } };
    const b: ParamTree = { x: np.array([10, 20]), y: { z: np.array([30]) } };
    const sum = mapTree((p, q) => p.add(q as JaxArray), a, b);
    expect([...(await readFloats((sum.x as JaxArray).ref))]).toEqual([11, 22]);
    disposeTree(sum);
    expect(liveBuffers()).toBe(before);
    expect(() => mapTree((p) => p, { x: np.zeros([1]) }, {})).toThrow(/trees differ at "x"/);
  });

  it("initialises from a seed, identically on every run", async () => {
    const first = await readFloats(normalInit(new Rng(9), [3, 3], 0.02));
    const second = await readFloats(normalInit(new Rng(9), [3, 3], 0.02));
    expect(first).toEqual(second);
    expect(Math.max(...first.map(Math.abs))).toBeLessThan(0.2);
  });

  it("moves to the host and back unchanged", async () => {
    const host = new Map([["a.weight", { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]]);
    const tree = treeFromHost(host);
    expect(await treeToHost(tree)).toEqual(host);
    disposeTree(tree);
  });
});
