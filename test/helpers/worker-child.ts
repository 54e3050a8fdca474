/**
 * Child process for the worker-adapter test: computes with the kernel threads
 * and then simply ends. The parent checks that it printed the right result and
 * exited by itself (no hang, no thread keeping it alive).
 */
import { numpy as np } from "../../src/engine/jax.js";
import { liveWorkerThreads } from "../../src/engine/node-worker.js";

const n = 256;
const a = np.array(Float32Array.from({ length: n * n }, (_, i) => (i % 7) - 3)).reshape([n, n]);
const product = np.matmul(a.ref, a);
const sum = (await product.sum().data())[0];
// Expected value from plain JavaScript.
const host = Float32Array.from({ length: n * n }, (_, i) => (i % 7) - 3);
let expected = 0;
for (let i = 0; i < n; i++)
  for (let k = 0; k < n; k++) {
    let rowSum = 0;
    for (let j = 0; j < n; j++) rowSum += host[k * n + j] as number;
    expected += (host[i * n + k] as number) * rowSum;
  }
console.log(JSON.stringify({ sum, expected, threads: liveWorkerThreads() }));
