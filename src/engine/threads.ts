/**
 * Thread set-up, evaluated before jax-js is imported (see `jax.ts`).
 *
 * The count comes from `PRECEPT_THREADS` (the CLI's `--threads` sets it) and
 * defaults to the number of available cores.
 */
import { availableParallelism } from "node:os";
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

/** The number of threads jax-js kernels run on in this process. */
export const engineThreads = threadCountFromEnv();
installNodeWorkers(engineThreads);
