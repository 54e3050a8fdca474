/**
 * Which jax-js kernels are matrix products, and how to hand them to BLAS.
 *
 * jax-js lowers `matmul`, `einsum` and their gradients to one kernel shape: a
 * sum over `K` of `A[..., k] * B[..., k]`, where each operand is a strided
 * view of a buffer over the output's dimensions plus the summed one (stride 0
 * where an operand does not vary). `planMatmul` reads those strides and, when
 * the output's dimensions fall into batch dimensions (both operands vary),
 * then rows (only one operand varies) and then columns (only the other), says
 * how to call a row-major `sgemm` once per batch index. Anything else (a
 * masked or padded view, a reduction other than a float32 sum, operands that
 * are not plain loads, strides BLAS cannot express) gets `null` and stays a
 * wasm kernel. The kernel's epilogue (bias, residual, scale, activation) is
 * not part of the plan: the engine runs it after the product.
 *
 * The types below describe the few fields of jax-js's internal `Kernel` and
 * `AluExp` classes this reads (jax-js does not export them).
 */

export interface AluExpLike {
  op: string;
  dtype: string;
  src: AluExpLike[];
  arg: unknown;
  evaluate(context: Record<string, number>): number;
  substitute(variables: Record<string, AluExpLike>): AluExpLike;
}

/** The static builders of jax-js's AluExp class (reached through an expression's constructor). */
interface AluBuilders {
  add(a: AluExpLike, b: AluExpLike): AluExpLike;
  mul(a: AluExpLike, b: AluExpLike): AluExpLike;
  idiv(a: AluExpLike, b: AluExpLike): AluExpLike;
  mod(a: AluExpLike, b: AluExpLike): AluExpLike;
  i32(value: number): AluExpLike;
  variable(dtype: string, name: string): AluExpLike;
}

export interface KernelLike {
  nargs: number;
  size: number;
  exp: AluExpLike;
  reduction?: { op: string; dtype: string; size: number; epilogue: AluExpLike } | null;
  dtype: string;
}

interface ViewLike {
  shape: number[];
  strides: number[];
  offset: number;
  mask: unknown;
}

/** One batch dimension: its size and each operand's stride along it (elements). */
export interface BatchDim {
  size: number;
  strideA: number;
  strideB: number;
  strideC: number;
}

/** Products smaller than this many multiply-adds stay in wasm, where a call costs less. */
export const MIN_NATIVE_WORK = 1 << 15;
const MAX_BATCH_DIMS = 8;

/**
 * An operand that is an elementwise expression (a fused prologue: a mask, an
 * activation's derivative) rather than a plain load: the engine first writes
 * it, contiguous as [batch..., rows or columns..., K], into a scratch buffer
 * by running `exp` as an elementwise kernel of `size` elements over the
 * product kernel's own arguments.
 */
export interface Materialized {
  exp: AluExpLike;
  size: number;
}

/** A row-major `C[M,N] = op(A)[M,K] · op(B)[K,N]` per batch index; offsets in elements from each argument's start. */
export interface MatmulPlan {
  /** The kernel argument each operand reads, or "scratch" for a materialized one (offset 0 in its buffer). */
  argA: number | "scratch";
  argB: number | "scratch";
  /** The operands to materialize first, A's before B's. */
  materialize: { operand: "A" | "B"; plan: Materialized }[];
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  offsetA: number;
  lda: number;
  offsetB: number;
  ldb: number;
  ldc: number;
  batch: BatchDim[];
}

interface Operand {
  arg: number;
  offset: number;
  /** Strides along the output's dimensions, then along K (for an expression: 1 where any of its loads varies, else 0). */
  strides: number[];
  /** Set when the operand is an elementwise expression, to be materialized. */
  exp: AluExpLike | null;
}

const product = (xs: number[]): number => xs.reduce((a, b) => a * b, 1);
/** Element strides of a contiguous row-major array of `shape`. */
const rowMajorStrides = (shape: number[]): number[] => shape.map((_, i) => product(shape.slice(i + 1)));

/** The operand `exp` is: a plain strided view indexed the canonical way, or an elementwise expression of such loads. */
function operand(exp: AluExpLike | undefined, outShape: number[], k: number): Operand | null {
  if (exp?.dtype !== "float32") return null;
  if (exp.op === "GlobalView") return load(exp, outShape, k);
  // An expression: no index variable outside a load's indices; which dimensions it varies along is
  // which its loads' addresses (or masks) vary along.
  const varies = [...outShape, k].map(() => false);
  const walk = (node: AluExpLike): boolean => {
    if (node.op === "GlobalView") {
      const along = dependence(node, outShape, k);
      along?.forEach((v, i) => {
        varies[i] = varies[i] || v;
      });
      return along !== null;
    }
    if (node.op === "Variable" || node.op === "Special" || node.op === "GlobalIndex") return false;
    return node.src.every(walk);
  };
  if (!walk(exp) || !varies.some(Boolean)) return null;
  return { arg: -1, offset: 0, strides: varies.map((v) => (v ? 1 : 0)), exp };
}

/**
 * Along which of the dimensions [...outShape, K] a load's address or mask
 * changes, found by moving one coordinate at a time from spread-out points
 * (any view: reshaped, padded or masked). Null when it cannot be evaluated.
 */
function dependence(exp: AluExpLike, outShape: number[], k: number): boolean[] | null {
  const tracker = (exp.arg as [number, { toAluExp?: (idxs: AluExpLike[]) => [AluExpLike, AluExpLike] }])[1];
  if (typeof tracker.toAluExp !== "function") return null;
  const [address, valid] = tracker.toAluExp(exp.src);
  const shape = [...outShape, k];
  const strides = rowMajorStrides(outShape);
  const at = (coords: number[]) => {
    const gidx = coords.slice(0, -1).reduce((sum, c, i) => sum + c * (strides[i] ?? 0), 0);
    const context = { gidx, ridx: coords[coords.length - 1] ?? 0 };
    return `${address.evaluate(context)}/${valid.evaluate(context)}`;
  };
  const along = shape.map(() => false);
  for (let p = 0; p < 6; p++) {
    const base = shape.map((d, i) => (p * 7919 + i * 104729) % d);
    const here = at(base);
    shape.forEach((d, i) => {
      for (const c of [0, 1, d - 1, Math.floor(d / 2)]) {
        if (c >= d || c === base[i]) continue;
        const moved = [...base];
        moved[i] = c;
        if (at(moved) !== here) along[i] = true;
      }
    });
  }
  return along;
}

function load(exp: AluExpLike, outShape: number[], k: number): Operand | null {
  if (exp.dtype !== "float32") return null;
  const [arg, tracker] = exp.arg as [number, { views: ViewLike[] }];
  const view = tracker.views[0];
  if (tracker.views.length !== 1 || !view || view.mask !== null) return null;
  const shape = [...outShape, k];
  if (view.shape.length !== shape.length || view.shape.some((d, i) => d !== shape[i])) return null;
  if (exp.src.length !== shape.length || !indexedCanonically(exp.src, outShape, k)) return null;
  return { arg, offset: view.offset, strides: view.strides, exp: null };
}

/**
 * Whether the load's index expressions are the output index unravelled over
 * the output's dimensions, then the reduction index: checked at the corners
 * of every dimension and at spread-out points (jax-js builds them exactly so;
 * this guards against a fusion that indexes otherwise).
 */
function indexedCanonically(indices: AluExpLike[], outShape: number[], k: number): boolean {
  const size = product(outShape);
  const strides = rowMajorStrides(outShape);
  const samples = new Set<number>([0, size - 1]);
  outShape.forEach((d, i) => {
    const stride = strides[i] ?? 1;
    samples.add((d - 1) * stride);
    if (d > 1) samples.add(stride);
  });
  for (let s = 1; s < 16; s++) samples.add(Math.floor((size * s) / 16 + s * 7) % size);
  for (const gidx of samples) {
    for (const ridx of [0, k - 1, (gidx * 31) % k]) {
      const ok = indices.every((index, i) =>
        i === outShape.length
          ? index.evaluate({ gidx, ridx }) === ridx
          : index.evaluate({ gidx, ridx }) === Math.floor(gidx / (strides[i] ?? 1)) % (outShape[i] ?? 1),
      );
      if (!ok) return false;
    }
  }
  return true;
}

function findLoad(exp: AluExpLike): AluExpLike | null {
  if (exp.op === "GlobalView") return exp;
  for (const src of exp.src) {
    const found = findLoad(src);
    if (found) return found;
  }
  return null;
}

/** Consecutive dimensions one stride walks, as one: its size and stride; null when they do not merge. */
function merged(sizes: number[], strides: number[]): { size: number; stride: number } | null {
  for (let i = 0; i + 1 < sizes.length; i++) {
    if (strides[i] !== (strides[i + 1] ?? 0) * (sizes[i + 1] ?? 0)) return null;
  }
  return { size: product(sizes), stride: strides[strides.length - 1] ?? 0 };
}

/** The leading dimension and transpose flag for a matrix whose element (row, col) sits at row*rowStride + col*colStride. */
function layout(rows: number, cols: number, rowStride: number, colStride: number): { trans: boolean; ld: number } | null {
  if ((colStride === 1 || cols === 1) && (rows === 1 || rowStride >= cols)) return { trans: false, ld: rows === 1 ? cols : rowStride };
  if ((rowStride === 1 || rows === 1) && (cols === 1 || colStride >= rows)) return { trans: true, ld: cols === 1 ? rows : colStride };
  return null;
}

/** How to run `kernel` as sgemm, or null when it is not a plain matrix product BLAS can take. */
export function planMatmul(kernel: KernelLike): MatmulPlan | null {
  const reduction = kernel.reduction;
  if (reduction?.op !== "Add" || reduction.dtype !== "float32" || kernel.dtype !== "float32") return null;
  const exp = kernel.exp;
  if (exp.op !== "Mul" || exp.src.length !== 2) return null;
  const k = reduction.size;
  const firstLoad = findLoad(exp);
  if (!firstLoad) return null;
  const views = (firstLoad.arg as [number, { views: ViewLike[] }])[1].views;
  const viewShape = views[views.length - 1]?.shape ?? []; // a view tracker's shape is its last view's
  const outShape = viewShape.slice(0, -1);
  if (product(outShape) !== kernel.size) return null;
  const a = operand(exp.src[0], outShape, k);
  const b = operand(exp.src[1], outShape, k);
  if (!a || !b) return null;

  // The output's dimensions (size 1 dropped), by which operand varies along them:
  // batch (both), then one group where only one varies, then a group where only the other does.
  type Dim = { index: number; size: number; strideC: number; a: boolean; b: boolean };
  const outStrides = rowMajorStrides(outShape);
  const dims: Dim[] = outShape
    .map((size, index) => ({
      index,
      size,
      strideC: outStrides[index] ?? 1,
      a: a.strides[index] !== 0,
      b: b.strides[index] !== 0,
    }))
    .filter((d) => d.size > 1);
  const batch: Dim[] = [];
  const groups: { varies: "a" | "b"; dims: Dim[] }[] = [];
  for (const d of dims) {
    if (d.a && d.b) {
      if (groups.length) return null; // a batch dimension after the rows or columns
      batch.push(d);
      continue;
    }
    if (!d.a && !d.b) return null; // the output repeats: rare, left to wasm
    const varies = d.a ? "a" : "b";
    const last = groups[groups.length - 1];
    if (last?.varies === varies) last.dims.push(d);
    else if (groups.length < 2) groups.push({ varies, dims: [d] });
    else return null;
  }
  const [rowGroup, colGroup] = groups;
  if (!rowGroup || batch.length > MAX_BATCH_DIMS) return null;
  const swapped = rowGroup.varies === "b";
  const rowsOf = effective(swapped ? b : a, batch, rowGroup.dims, outShape, k);
  const colsOf = effective(swapped ? a : b, batch, colGroup?.dims ?? [], outShape, k);
  const strideOf = (o: Operand, d: Dim) => o.strides[d.index] ?? 0;
  const rows = merged(
    rowGroup.dims.map((d) => d.size),
    rowGroup.dims.map((d) => strideOf(rowsOf.operand, d)),
  );
  const cols = colGroup
    ? merged(
        colGroup.dims.map((d) => d.size),
        colGroup.dims.map((d) => strideOf(colsOf.operand, d)),
      )
    : { size: 1, stride: 0 };
  if (!rows || !cols) return null;
  const m = rows.size;
  const n = cols.size;
  if (m * n * k * product(batch.map((d) => d.size)) < MIN_NATIVE_WORK) return null;

  const opA = layout(m, k, rows.stride, rowsOf.operand.strides[outShape.length] ?? 0);
  const opB = layout(k, n, colsOf.operand.strides[outShape.length] ?? 0, cols.stride);
  if (!opA || !opB) return null;
  const materialize: MatmulPlan["materialize"] = [];
  if (rowsOf.materialized) materialize.push({ operand: "A", plan: rowsOf.materialized });
  if (colsOf.materialized) materialize.push({ operand: "B", plan: colsOf.materialized });
  return {
    argA: rowsOf.materialized ? "scratch" : rowsOf.operand.arg,
    argB: colsOf.materialized ? "scratch" : colsOf.operand.arg,
    materialize,
    transA: opA.trans,
    transB: opB.trans,
    m,
    n,
    k,
    offsetA: rowsOf.operand.offset,
    lda: opA.ld,
    offsetB: colsOf.operand.offset,
    ldb: opB.ld,
    ldc: n,
    batch: batch.map((d) => ({
      size: d.size,
      strideA: strideOf(rowsOf.operand, d),
      strideB: strideOf(colsOf.operand, d),
      strideC: d.strideC,
    })),
  };
}

/**
 * A plain operand as it is; an expression as the contiguous buffer it will be
 * written to ([batch..., own dimensions..., K], K innermost), with the
 * elementwise expression that writes it: the product kernel's expression at
 * output index Σ idx·outStride over the dimensions it varies along (0 along
 * the others, where it does not vary) and reduction index k.
 */
function effective(
  o: Operand,
  batch: { index: number; size: number; strideC: number }[],
  own: { index: number; size: number; strideC: number }[],
  outShape: number[],
  k: number,
): { operand: Operand; materialized: Materialized | null } {
  if (!o.exp) return { operand: o, materialized: null };
  const order = [...batch, ...own];
  const strides = new Array<number>(outShape.length + 1).fill(0);
  strides[outShape.length] = 1;
  let size = k;
  for (let j = order.length - 1; j >= 0; j--) {
    const d = order[j] as (typeof order)[number];
    strides[d.index] = size;
    size *= d.size;
  }
  const E = o.exp.constructor as unknown as AluBuilders;
  const idx = E.variable("int32", "gidx");
  let outIndex = E.i32(0);
  for (const d of order) {
    const coordinate = E.mod(E.idiv(idx, E.i32(strides[d.index] ?? 1)), E.i32(d.size));
    outIndex = E.add(outIndex, E.mul(coordinate, E.i32(d.strideC)));
  }
  const exp = o.exp.substitute({ gidx: outIndex, ridx: E.mod(idx, E.i32(k)) });
  return { operand: { ...o, strides, offset: 0 }, materialized: { exp, size } };
}
