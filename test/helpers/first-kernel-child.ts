/**
 * Child process for the worker-adapter race test: the very first kernel of a
 * fresh process is large enough to go to the inline worker's offload thread,
 * which may not have started yet. Prints how many outputs came out wrong.
 */
import { numpy as np } from "../../src/engine/jax.js";

const n = 1 << 20;
const x = np.array(Float32Array.from({ length: n }, (_, i) => i % 1000));
const y = await x.mul(2).add(1).data();
let wrong = 0;
for (let i = 0; i < n; i++) if (y[i] !== (i % 1000) * 2 + 1) wrong++;
console.log(JSON.stringify({ wrong }));
