import { describe, expect, it } from "vitest";
import { type AluExpLike, type KernelLike, planMatmul } from "./blas-plan.js";

const unused = (): AluExpLike => {
  throw new Error("not used by these plans");
};

/** An index expression: the output index unravelled (dimension i of `outShape`), or the reduction index. */
function index(outShape: number[], dim: number | "k", skew = 0): AluExpLike {
  const stride = dim === "k" ? 1 : outShape.slice(dim + 1).reduce((a, b) => a * b, 1);
  return {
    op: "Index",
    dtype: "int32",
    src: [],
    arg: null,
    evaluate: ({ gidx = 0, ridx = 0 }) => (dim === "k" ? ridx : (Math.floor(gidx / stride) % (outShape[dim] ?? 1)) + skew),
    substitute: unused,
  };
}

/** A strided load over the output's dimensions then K, indexed the way jax-js indexes it. */
function load(
  arg: number,
  outShape: number[],
  k: number,
  strides: number[],
  options: { offset?: number; mask?: unknown; skew?: number } = {},
) {
  const src = [...outShape.map((_, i) => index(outShape, i, i === 0 ? (options.skew ?? 0) : 0)), index(outShape, "k")];
  const view = { shape: [...outShape, k], strides, offset: options.offset ?? 0, mask: options.mask ?? null };
  return { op: "GlobalView", dtype: "float32", src, arg: [arg, { views: [view] }], evaluate: () => 0, substitute: unused };
}

function kernel(outShape: number[], k: number, a: AluExpLike, b: AluExpLike, op = "Add"): KernelLike {
  const acc = { op: "Variable", dtype: "float32", src: [], arg: "acc", evaluate: () => 0, substitute: unused };
  return {
    nargs: 2,
    size: outShape.reduce((x, y) => x * y, 1),
    exp: { op: "Mul", dtype: "float32", src: [a, b], arg: null, evaluate: () => 0, substitute: unused },
    reduction: { op, dtype: "float32", size: k, epilogue: acc },
    dtype: "float32",
  };
}

describe("planMatmul", () => {
  it("reads a linear layer x·Wᵀ over a batch of rows as one sgemm with B transposed", () => {
    // x [4, 64, 96] (rows merge: 4·64), W [80, 96]; output [4, 64, 80].
    const out = [4, 64, 80];
    const plan = planMatmul(kernel(out, 96, load(0, out, 96, [64 * 96, 96, 0, 1]), load(1, out, 96, [0, 0, 96, 1])));
    expect(plan).toMatchObject({
      argA: 0,
      argB: 1,
      transA: false,
      transB: true,
      m: 256,
      n: 80,
      k: 96,
      lda: 96,
      ldb: 96,
      ldc: 80,
      batch: [],
    });
  });

  it("keeps batch dimensions where both operands vary (attention), with each operand's strides", () => {
    // q [2, 3, 40, 32] · kᵀ, k [2, 3, 50, 32]: output [2, 3, 40, 50].
    const out = [2, 3, 40, 50];
    const plan = planMatmul(
      kernel(out, 32, load(0, out, 32, [3 * 40 * 32, 40 * 32, 32, 0, 1]), load(1, out, 32, [3 * 50 * 32, 50 * 32, 0, 32, 1])),
    );
    expect(plan?.batch).toEqual([
      { size: 2, strideA: 3840, strideB: 4800, strideC: 6000 },
      { size: 3, strideA: 1280, strideB: 1600, strideC: 2000 },
    ]);
    expect(plan).toMatchObject({ m: 40, n: 50, k: 32, transA: false, transB: true });
  });

  it("swaps the operands when the second one varies along the rows", () => {
    const out = [64, 48];
    // A varies along the columns, B along the rows: C = B-rows times A-columns.
    const plan = planMatmul(kernel(out, 40, load(0, out, 40, [0, 40, 1]), load(1, out, 40, [1, 0, 64])));
    expect(plan).toMatchObject({ argA: 1, argB: 0, transA: true, lda: 64, transB: true, ldb: 40, m: 64, n: 48 });
  });

  it("leaves to wasm what BLAS cannot take or what is not a plain product", () => {
    const out = [64, 80];
    const a = () => load(0, out, 96, [96, 0, 1]);
    const b = () => load(1, out, 96, [0, 96, 1]);
    expect(planMatmul(kernel(out, 96, a(), b()))).not.toBeNull();
    expect(planMatmul(kernel(out, 96, a(), b(), "Max"))).toBeNull();
    expect(planMatmul(kernel(out, 96, load(0, out, 96, [96, 0, 1], { mask: [[0, 1]] }), b()))).toBeNull();
    expect(planMatmul(kernel(out, 96, load(0, out, 96, [96, 0, 1], { skew: 1 }), b())), "indexed otherwise").toBeNull();
    expect(planMatmul(kernel(out, 96, load(0, out, 96, [192, 0, 2]), b())), "no unit stride").toBeNull();
    expect(planMatmul(kernel(out, 96, load(0, out, 96, [96, 0, 0]), b())), "constant along K").toBeNull();
    expect(planMatmul(kernel([8, 8], 8, load(0, [8, 8], 8, [8, 0, 1]), load(1, [8, 8], 8, [0, 8, 1]))), "too small to pay").toBeNull();
    // Row-wise dot products (a norm's sum of squares): every output dimension is a batch one.
    expect(planMatmul(kernel([256], 576, load(0, [256], 576, [576, 1]), load(0, [256], 576, [576, 1])))).toBeNull();
  });
});
