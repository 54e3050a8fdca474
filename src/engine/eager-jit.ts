/**
 * Whether jitted programs on the wasm engine run each kernel as it is reached
 * (so their frees free memory during the call) instead of queueing the whole
 * program (see scripts/patch-jax.mjs, patch 2). Eager execution is what lets
 * real-shape training steps fit in 4 GiB, but with worker threads it has given
 * a NaN gradient now and then under CPU load, so it is off by default and
 * turned on only for steps that need it.
 */
export function setEagerJit(on: boolean): void {
  (globalThis as { __jaxEagerJit?: boolean }).__jaxEagerJit = on;
}

/** Whether jitted programs currently run eagerly. */
export function eagerJitOn(): boolean {
  return (globalThis as { __jaxEagerJit?: boolean }).__jaxEagerJit === true;
}

/**
 * Runs `call` (a jitted call) eagerly and restores the setting after. A decode
 * step is ~200 small kernels: queued, each is a promise job of the worker
 * pool; eagerly, a direct call on this thread (6-layer d384 Llama, batch 1,
 * quiet: 143-224 tokens/s queued, 260-284 eager; batch 16: 508-548 and 656-816).
 */
export function withEagerJit<T>(call: () => T): T {
  const before = eagerJitOn();
  setEagerJit(true);
  try {
    return call();
  } finally {
    setEagerJit(before);
  }
}
