/**
 * Thread set-up, evaluated before jax-js is imported (see `jax.ts`).
 *
 * The count comes from `PRECEPT_THREADS` (the CLI's `--threads` sets it) and
 * defaults to the number of available cores. Matrix products run on OpenBLAS
 * when its addon is built, unless `PRECEPT_MATMUL` (the CLI's `--matmul`) is
 * `wasm`; `blas` makes a missing addon an error.
 */
import { availableParallelism } from "node:os";
import { installNativeMatmul, type NativeMatmulStatus } from "./blas.js";
import { installNodeWorkers } from "./node-worker.js";

export function threadCountFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PRECEPT_THREADS;
  if (raw === undefined || raw === "") return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`PRECEPT_THREADS must be a positive integer, got "${raw}"`);
  }
  return n;
}

export type MatmulChoice = "auto" | "blas" | "wasm";

export function matmulChoiceFromEnv(env: NodeJS.ProcessEnv = process.env): MatmulChoice {
  const raw = env.PRECEPT_MATMUL;
  if (raw === undefined || raw === "") return "auto";
  if (raw === "auto" || raw === "blas" || raw === "wasm") return raw;
  throw new Error(`PRECEPT_MATMUL must be auto, blas or wasm, got "${raw}"`);
}

/** The number of threads jax-js kernels run on in this process. */
export const engineThreads = threadCountFromEnv();
installNodeWorkers(engineThreads);

const matmul = matmulChoiceFromEnv();
/** Whether matrix products run on OpenBLAS in this process, and why not. */
export const nativeMatmul: NativeMatmulStatus =
  matmul === "wasm"
    ? { active: false, detail: "PRECEPT_MATMUL=wasm", calls: 0, materialized: 0 }
    : installNativeMatmul(engineThreads, { required: matmul === "blas" });
