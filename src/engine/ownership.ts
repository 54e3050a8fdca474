/**
 * Small helpers that make jax-js reference counting hard to get wrong.
 *
 * The rule (from jax-js): a function that takes an array consumes one
 * reference to it; `x.ref` adds a reference so `x` survives the call.
 * These helpers follow the same rule and name what they do.
 */
import type { Array as JaxArray } from "./jax.js";
import { liveBuffers } from "./live-buffers.js";

/** Reads a one-element array as a number and consumes it. */
export async function readNumber(x: JaxArray): Promise<number> {
  const data = await x.data();
  if (data.length !== 1) throw new Error(`readNumber: expected one element, got shape [${x.shape.join(", ")}]`);
  return Number(data[0]);
}

/** Reads an array as float32 data and consumes it. */
export async function readFloats(x: JaxArray): Promise<Float32Array> {
  const data = await x.data();
  return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
}

/**
 * Owns arrays until the scope ends, then disposes them, also when the body
 * throws. `own(x)` hands an array to the scope and returns it; use `x.ref`
 * when passing an owned array into a consuming function.
 *
 * ```ts
 * const loss = await withScope(async (own) => {
 *   const h = own(forward(x));
 *   return readNumber(lossOf(h.ref));
 * });
 * ```
 */
export async function withScope<T>(body: (own: <A extends JaxArray>(x: A) => A) => Promise<T> | T): Promise<T> {
  const owned: JaxArray[] = [];
  const own = <A extends JaxArray>(x: A): A => {
    owned.push(x);
    return x;
  };
  try {
    return await body(own);
  } finally {
    for (const x of owned) if (x.refCount > 0) x.dispose();
  }
}

/**
 * Runs `body` and throws if it left more live device buffers behind than it
 * started with (beyond `allowed`). For tests and debugging of new code paths.
 */
export async function expectNoLeak<T>(label: string, body: () => Promise<T> | T, allowed = 0): Promise<T> {
  const before = liveBuffers();
  const result = await body();
  const after = liveBuffers();
  if (after - before > allowed) {
    throw new Error(`${label}: ${after - before} device buffers leaked (live ${before} → ${after})`);
  }
  return result;
}

export { liveBuffers };
