#!/usr/bin/env node
/**
 * Fixes a reference-counting leak in @jax-js/jax 0.1.25, run on `npm install`.
 *
 * The JVP rule of `reciprocal` (used by every float division, softmax and
 * layer norm under `grad`) calls `reciprocal(x.ref)` and never consumes `x`
 * itself, so each differentiated division leaks one device buffer: a GPT
 * training step leaked ~66 buffers. The fix consumes `x` as every other rule
 * does. The script is idempotent and fails loudly if the code it expects is
 * not there (a different jax-js version needs this patch re-checked).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const dist = dirname(require.resolve("@jax-js/jax"));
const buggy = "const xRecip = reciprocal$1(x.ref);";
const fixed = "const xRecip = reciprocal$1(x);";
for (const file of ["index.js", "index.cjs"]) {
  const path = join(dist, file);
  const source = readFileSync(path, "utf8");
  if (source.includes(buggy)) {
    writeFileSync(path, source.replace(buggy, fixed));
    console.log(`patch-jax: fixed the reciprocal JVP leak in ${path}`);
  } else if (!source.includes(fixed)) {
    console.error(
      `patch-jax: ${path} does not contain the expected reciprocal JVP rule; check whether this jax-js version still leaks (see scripts/patch-jax.mjs)`,
    );
    process.exit(1);
  }
}
