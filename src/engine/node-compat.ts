/**
 * Globals jax-js expects that Node.js 20 lacks. jax-js tests
 * `data instanceof Float16Array` when it builds an array from a typed array,
 * which throws a ReferenceError where the class does not exist (Node < 22).
 * A stand-in that nothing is an instance of makes those checks false; making
 * one fails with a message, as Precept stores float16 weights as float32.
 */
import { setFlagsFromString } from "node:v8";

const g = globalThis as Record<string, unknown>;
if (typeof g.Float16Array === "undefined") {
  g.Float16Array = class Float16ArrayUnavailable {
    constructor() {
      throw new Error("float16 arrays need Node.js 22 or later; Precept converts float16 weights to float32 on load");
    }
  };
}

/**
 * jax-js's matmul kernels use relaxed-SIMD fused multiply-add when the runtime
 * validates it (its "relaxed-madd" probe); Node 20's V8 has it behind a flag,
 * which can be set at run time before the first module is compiled, and
 * applies to the worker threads too. `PRECEPT_RELAXED_SIMD=0` leaves it off.
 */
const relaxedMadd = Uint8Array.from(
  "0061736d0100000001080160037b7b7b017b030201000a0d010b00200020012002fd85020b".match(/../g) as string[],
  (h) => Number.parseInt(h, 16),
);
// The build's lib has no DOM types, so WebAssembly is typed here.
const wasm = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
if (process.env.PRECEPT_RELAXED_SIMD !== "0" && !wasm.validate(relaxedMadd)) {
  setFlagsFromString("--experimental-wasm-relaxed-simd");
}
