#!/usr/bin/env node
/**
 * Fixes two problems of @jax-js/jax 0.1.25, run on `npm install`.
 *
 * 1. A reference-counting leak. The JVP rule of `reciprocal` (used by every
 *    float division, softmax and layer norm under `grad`) calls
 *    `reciprocal(x.ref)` and never consumes `x` itself, so each differentiated
 *    division leaks one device buffer: a GPT training step leaked ~66 buffers.
 *    The fix consumes `x` as every other rule does.
 * 2. A jitted call's memory is the sum of all its buffers. `JitProgram.execute`
 *    queues every kernel and only runs them when a result is read, and a
 *    queued kernel holds its buffers, so the program's frees free nothing:
 *    a training step held every activation and every gradient temporary at
 *    once (the 4 GiB wasm limit at real model sizes). On the wasm backend the
 *    fix runs each kernel as it is reached (after the pending work of the
 *    call's inputs), so a buffer is freed after its last use, as the program
 *    intends. Other backends keep the queue.
 *
 * The script is idempotent and fails loudly if the code it expects is not
 * there (a different jax-js version needs these patches re-checked).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const dist = dirname(require.resolve("@jax-js/jax"));
const patches = [
  { name: "the reciprocal JVP leak", from: "const xRecip = reciprocal$1(x.ref);", to: "const xRecip = reciprocal$1(x);" },
  {
    name: "eager jit execution (execute)",
    from: "\texecute(inputs) {",
    to: "\texecute(inputs, eager = false) {",
  },
  {
    name: "eager jit execution (kernels)",
    from: "pending.push(new PendingExecute(this.backend, step.source, inputs, outputs));",
    to: "{ const exe = new PendingExecute(this.backend, step.source, inputs, outputs); if (eager) { exe.prepareSync(); exe.submit(); } else pending.push(exe); }",
  },
  {
    name: "eager jit execution (call)",
    from: "const { outputs, pending } = jitCompile(backend, jaxpr).execute(args.map((x) => x._realizeSource()));",
    to: 'const sources = args.map((x) => x._realizeSource()); const eager = backend.type === "wasm"; if (eager) for (const exe of new Set(args.flatMap((x) => x.#pending))) { exe.prepareSync(); exe.submit(); } const { outputs, pending } = jitCompile(backend, jaxpr).execute(sources, eager);',
  },
];
for (const file of ["index.js", "index.cjs"]) {
  const path = join(dist, file);
  let source = readFileSync(path, "utf8");
  let changed = false;
  for (const { name, from, to } of patches) {
    if (source.includes(to)) continue;
    const at = source.indexOf(from);
    if (at < 0 || source.indexOf(from, at + 1) >= 0) {
      console.error(
        `patch-jax: ${path} does not contain the expected code for ${name} exactly once; check whether this jax-js version still needs it (see scripts/patch-jax.mjs)`,
      );
      process.exit(1);
    }
    source = source.replace(from, to);
    changed = true;
    console.log(`patch-jax: ${name} in ${path}`);
  }
  if (changed) writeFileSync(path, source);
}
