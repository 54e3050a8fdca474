/**
 * The one place Precept imports `@jax-js/jax`. The imports above it run first:
 * they fill in globals Node 20 lacks and install the Node `Worker` adapter
 * before jax-js builds its wasm backend.
 */
import "./node-compat.js";
import "./threads.js";

export * from "@jax-js/jax";
