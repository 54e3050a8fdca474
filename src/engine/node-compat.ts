/**
 * Globals jax-js expects that Node.js 20 lacks. jax-js tests
 * `data instanceof Float16Array` when it builds an array from a typed array,
 * which throws a ReferenceError where the class does not exist (Node < 22).
 * A stand-in that nothing is an instance of makes those checks false; making
 * one fails with a message, as Precept stores float16 weights as float32.
 */
const g = globalThis as Record<string, unknown>;
if (typeof g.Float16Array === "undefined") {
  g.Float16Array = class Float16ArrayUnavailable {
    constructor() {
      throw new Error("float16 arrays need Node.js 22 or later; Precept converts float16 weights to float32 on load");
    }
  };
}
