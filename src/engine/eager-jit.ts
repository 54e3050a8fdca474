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
