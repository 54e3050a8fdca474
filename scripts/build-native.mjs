#!/usr/bin/env node
/**
 * Builds Precept's native matmul addon (native/precept-blas.c) into
 * native/build/precept-blas.node, run on `npm install`.
 *
 * It needs a C compiler (cc), Node's own headers (they ship with Node's
 * binary distributions, in include/node beside bin/) and OpenBLAS at run time
 * (Debian: libopenblas0-pthread; the addon loads it itself, so no -dev package
 * is needed to build). Where one is missing the addon is not built, Precept
 * keeps jax-js's wasm kernels, and this prints why and exits 0: an install
 * never fails for want of it. `--required` makes a failure exit 1.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "native", "precept-blas.c");
const output = join(root, "native", "build", "precept-blas.node");
const headers = join(dirname(process.execPath), "..", "include", "node");
const required = process.argv.includes("--required");

function skip(why) {
  console.log(`build-native: not built (${why}); matrix products stay on jax-js's wasm kernels`);
  process.exit(required ? 1 : 0);
}

if (!existsSync(source)) skip(`${source} is missing`);
if (!existsSync(join(headers, "node_api.h"))) skip(`Node's headers are not at ${headers}`);
mkdirSync(dirname(output), { recursive: true });
try {
  execFileSync("cc", ["-O2", "-Wall", "-shared", "-fPIC", `-I${headers}`, "-o", output, source, "-ldl"], { stdio: "inherit" });
} catch (error) {
  skip(`cc failed: ${error.message}`);
}
console.log(`build-native: built ${output}`);
