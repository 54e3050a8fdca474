/** Layer 1: arrays, autodiff and training primitives over jax-js. */
export { installNativeMatmul, type NativeMatmulStatus, nativeMatmulStatus, uninstallNativeMatmul } from "./blas.js";
export * from "./checkpoint.js";
export * from "./clip.js";
export * from "./device.js";
export * from "./jax.js";
export * from "./live-buffers.js";
export * from "./nn.js";
export * from "./optim.js";
export * from "./ownership.js";
export * from "./rng.js";
export * from "./safetensors.js";
export * from "./schedule.js";
export { engineThreads, matmulChoiceFromEnv, nativeMatmul, threadCountFromEnv } from "./threads.js";
export * from "./tree.js";
