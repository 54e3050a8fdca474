import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installNativeMatmul, uninstallNativeMatmul } from "./blas.js";
import { setEagerJit } from "./eager-jit.js";
import { type Array as JaxArray, jit, numpy as np } from "./jax.js";
import { Rng } from "./rng.js";
import { engineThreads, nativeMatmul } from "./threads.js";

const counter = () => (globalThis as { __jaxSyncParallelKernels?: number }).__jaxSyncParallelKernels ?? 0;

describe("eager jit execution (scripts/patch-jax.mjs 2 and 4)", () => {
  // The matmul below is to run as a wasm kernel split across the threads, not on OpenBLAS.
  beforeAll(() => uninstallNativeMatmul());
  afterAll(() => {
    if (nativeMatmul.active) installNativeMatmul(engineThreads);
  });
  it("gives the queued execution's results, with large kernels split across the worker threads", async () => {
    const rng = new Rng(0);
    const host = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const a = host(256 * 576);
    const b = host(576 * 1536);
    const f = jit((x: JaxArray, y: JaxArray) => np.tanh(np.matmul(x, y)).sum(1));
    const run = async (eager: boolean) => {
      setEagerJit(eager);
      try {
        return (await f(np.array(a).reshape([256, 576]), np.array(b).reshape([576, 1536])).data()) as Float32Array;
      } finally {
        setEagerJit(false);
      }
    };
    const queued = await run(false); // also starts the worker pool
    const before = counter();
    for (let i = 0; i < 3; i++) expect(await run(true)).toEqual(queued);
    if (engineThreads > 1) expect(counter()).toBeGreaterThan(before);
    else expect(counter()).toBe(before);
    f.dispose();
  });
});
