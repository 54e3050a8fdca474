/**
 * Matrix products on OpenBLAS, in place on jax-js's wasm memory.
 *
 * jax-js's generated wasm matmul kernels reach about a quarter of what
 * OpenBLAS does with AVX2/AVX-512 on the same cores, and matmuls are nine
 * tenths of a forward pass at real model shapes. `installNativeMatmul` loads
 * Precept's small addon (native/precept-blas.c, built on install when a C
 * compiler and OpenBLAS are there: scripts/build-native.mjs) and registers the
 * hook that the patched wasm backend calls for each kernel
 * (scripts/patch-jax.mjs): kernels that `planMatmul` recognises run as
 * `sgemm` on the arrays where they are, the rest stay wasm. Without the addon
 * everything stays wasm, as before.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type KernelLike, type MatmulPlan, planMatmul } from "./blas-plan.js";

interface BlasAddon {
  sgemm(memory: Float32Array, plan: Float64Array): void;
  setThreads(n: number): void;
  config(): string;
}

/** Where the build puts the addon: native/ at the package root (src/engine and dist/engine are both two levels down). */
export const NATIVE_ADDON_PATH = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "native", "build", "precept-blas.node");

interface Prepared {
  /** Its `materialize` list is what the patched backend writes first (scripts/patch-jax.mjs 6). */
  plan: MatmulPlan;
  /** OpenBLAS threads for this product: one for a small one, where waking a second thread costs more than it saves. */
  threads: number;
  /** The addon's plan array; the three offsets are filled in per call. */
  array: Float64Array;
}

/** Products below this many multiply-adds run on one OpenBLAS thread (a decode step's matrix-vector products). */
export const MIN_THREADED_WORK = 1 << 21;

let addon: BlasAddon | null = null;
let maxThreads = 1;
let currentThreads = 0;
let loadError: string | null = null;
let memoryView: Float32Array | null = null;
let nativeCalls = 0;
let materializedCalls = 0;

function prepare(plan: MatmulPlan): Prepared {
  const array = new Float64Array(12 + 4 * plan.batch.length);
  array.set([plan.transA ? 1 : 0, plan.transB ? 1 : 0, plan.m, plan.n, plan.k, 0, plan.lda, 0, plan.ldb, 0, plan.ldc, plan.batch.length]);
  for (const [i, d] of plan.batch.entries()) array.set([d.size, d.strideA, d.strideB, d.strideC], 12 + 4 * i);
  const work = plan.m * plan.n * plan.k * plan.batch.reduce((n, d) => n * d.size, 1);
  return { plan, array, threads: work < MIN_THREADED_WORK ? 1 : maxThreads };
}

/** jax-js's wasm memory, as far as this file needs it (Node's types have no WebAssembly.Memory). */
interface WasmMemory {
  buffer: ArrayBufferLike;
}

/**
 * Runs a planned product; `ptrs` are the kernel's argument addresses in bytes,
 * the output last, and `scratch` the buffers the engine wrote the
 * materialized operands to (plan.materialize's order).
 */
function run(prepared: Prepared, memory: WasmMemory, ptrs: number[], scratch: number[] = []): void {
  const { plan, array, threads } = prepared;
  if (!addon) throw new Error("native matmul: the addon was unloaded after this kernel was planned");
  if (memoryView?.buffer !== memory.buffer) memoryView = new Float32Array(memory.buffer);
  const scratchB = plan.argA === "scratch" ? 1 : 0;
  array[5] = ((plan.argA === "scratch" ? scratch[0] : ptrs[plan.argA]) ?? 0) / 4 + plan.offsetA;
  array[7] = ((plan.argB === "scratch" ? scratch[scratchB] : ptrs[plan.argB]) ?? 0) / 4 + plan.offsetB;
  array[9] = (ptrs[ptrs.length - 1] ?? 0) / 4;
  if (threads !== currentThreads) {
    addon.setThreads(threads);
    currentThreads = threads;
  }
  addon.sgemm(memoryView, array);
  nativeCalls++;
  if (scratch.length) materializedCalls++;
}

export interface NativeMatmulStatus {
  /** Whether matrix products run on OpenBLAS. */
  active: boolean;
  /** OpenBLAS's build and core type when active; why not otherwise. */
  detail: string;
  /** Products run natively so far in this process. */
  calls: number;
  /** Of those, products with an operand that was an expression, written to a scratch buffer first. */
  materialized: number;
}

/**
 * Loads the addon and routes matrix products to it, with `threads` OpenBLAS
 * threads per product. Returns what happened; never throws (the wasm kernels
 * remain) unless `required`.
 */
export function installNativeMatmul(threads: number, options: { required?: boolean; path?: string } = {}): NativeMatmulStatus {
  const path = options.path ?? NATIVE_ADDON_PATH;
  try {
    if (!existsSync(path))
      throw new Error(`${path} is not built (run \`npm run build:native\`; it needs a C compiler and libopenblas-dev)`);
    addon = createRequire(import.meta.url)(path) as BlasAddon;
    addon.setThreads(threads);
    maxThreads = threads;
    currentThreads = threads;
    loadError = null;
  } catch (error) {
    addon = null;
    loadError = (error as Error).message;
    if (options.required) throw new Error(`native matmul unavailable: ${loadError}`);
    return nativeMatmulStatus();
  }
  (globalThis as { __jaxNativeKernels?: unknown }).__jaxNativeKernels = {
    plan: (kernel: KernelLike) => {
      const plan = planMatmul(kernel);
      return plan ? prepare(plan) : null;
    },
    run,
  };
  return nativeMatmulStatus();
}

/** Routes every kernel back to wasm (the backend plans each kernel again when a hook is installed anew). */
export function uninstallNativeMatmul(): void {
  delete (globalThis as { __jaxNativeKernels?: unknown }).__jaxNativeKernels;
  addon = null;
  loadError = "turned off";
}

export function nativeMatmulStatus(): NativeMatmulStatus {
  const counts = { calls: nativeCalls, materialized: materializedCalls };
  if (addon) return { active: true, detail: addon.config(), ...counts };
  return { active: false, detail: loadError ?? "not installed", ...counts };
}
