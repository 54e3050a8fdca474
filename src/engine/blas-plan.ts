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

/** A row-major `C[M,N] = op(A)[M,K] · op(B)[K,N]` per batch index; offsets in elements from each argument's start. */
export interface MatmulPlan {
  argA: number;
  argB: number;
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
  /** Strides along the output's dimensions, then along K. */
  strides: number[];
}

const product = (xs: number[]): number => xs.reduce((a, b) => a * b, 1);

/** The operand a `GlobalView` load reads, if it is a plain strided view indexed the canonical way. */
function operand(exp: AluExpLike | undefined, outShape: number[], k: number): Operand | null {
  if (exp?.op !== "GlobalView" || exp.dtype !== "float32") return null;
  const [arg, tracker] = exp.arg as [number, { views: ViewLike[] }];
  const view = tracker.views[0];
  if (tracker.views.length !== 1 || !view || view.mask !== null) return null;
  const shape = [...outShape, k];
  if (view.shape.length !== shape.length || view.shape.some((d, i) => d !== shape[i])) return null;
  if (exp.src.length !== shape.length || !indexedCanonically(exp.src, outShape, k)) return null;
  return { arg, offset: view.offset, strides: view.strides };
}

/**
 * Whether the load's index expressions are the output index unravelled over
 * the output's dimensions, then the reduction index: checked at the corners
 * of every dimension and at spread-out points (jax-js builds them exactly so;
 * this guards against a fusion that indexes otherwise).
 */
function indexedCanonically(indices: AluExpLike[], outShape: number[], k: number): boolean {
  const size = product(outShape);
  const strides = outShape.map((_, i) => product(outShape.slice(i + 1)));
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
  if (exp.op !== "Mul" || exp.src.length !== 2 || exp.src[0]?.op !== "GlobalView") return null;
  const k = reduction.size;
  const viewShape = (exp.src[0].arg as [number, { views: ViewLike[] }])[1].views[0]?.shape ?? [];
  const outShape = viewShape.slice(0, -1);
  if (product(outShape) !== kernel.size) return null;
  const a = operand(exp.src[0], outShape, k);
  const b = operand(exp.src[1], outShape, k);
  if (!a || !b) return null;

  // The output's dimensions (size 1 dropped), by which operand varies along them:
  // batch (both), then one group where only one varies, then a group where only the other does.
  const dims: BatchDim[] = outShape
    .map((size, i) => ({ size, strideA: a.strides[i] ?? 0, strideB: b.strides[i] ?? 0, strideC: product(outShape.slice(i + 1)) }))
    .filter((d) => d.size > 1);
  const batch: BatchDim[] = [];
  const groups: { varies: "a" | "b"; dims: BatchDim[] }[] = [];
  for (const d of dims) {
    if (d.strideA !== 0 && d.strideB !== 0) {
      if (groups.length) return null; // a batch dimension after the rows or columns
      batch.push(d);
      continue;
    }
    if (d.strideA === 0 && d.strideB === 0) return null; // the output repeats: rare, left to wasm
    const varies = d.strideA !== 0 ? "a" : "b";
    const last = groups[groups.length - 1];
    if (last?.varies === varies) last.dims.push(d);
    else if (groups.length < 2) groups.push({ varies, dims: [d] });
    else return null;
  }
  const [rowGroup, colGroup] = groups;
  if (!rowGroup || batch.length > MAX_BATCH_DIMS) return null;
  const swapped = rowGroup.varies === "b";
  const [rowsOf, colsOf] = swapped ? [b, a] : [a, b];
  const strideOf = (d: BatchDim, o: Operand) => (o === a ? d.strideA : d.strideB);
  const rows = merged(
    rowGroup.dims.map((d) => d.size),
    rowGroup.dims.map((d) => strideOf(d, rowsOf)),
  );
  const cols = colGroup
    ? merged(
        colGroup.dims.map((d) => d.size),
        colGroup.dims.map((d) => strideOf(d, colsOf)),
      )
    : { size: 1, stride: 0 };
  if (!rows || !cols) return null;
  const m = rows.size;
  const n = cols.size;
  if (m * n * k * product(batch.map((d) => d.size)) < MIN_NATIVE_WORK) return null;

  const opA = layout(m, k, rows.stride, rowsOf.strides[outShape.length] ?? 0);
  const opB = layout(k, n, colsOf.strides[outShape.length] ?? 0, cols.stride);
  if (!opA || !opB) return null;
  return {
    argA: rowsOf.arg,
    argB: colsOf.arg,
    transA: opA.trans,
    transB: opB.trans,
    m,
    n,
    k,
    offsetA: rowsOf.offset,
    lda: opA.ld,
    offsetB: colsOf.offset,
    ldb: opB.ld,
    ldc: n,
    batch: batch.map((d) => (swapped ? { ...d, strideA: d.strideB, strideB: d.strideA } : d)),
  };
}
