/**
 * Precept: align language models with Constitutional AI and RLHF.
 * The package root re-exports the public API of each layer.
 */

export * from "./constitution/index.js";
export * from "./engine/index.js";
export * from "./models/index.js";
export * from "./providers/index.js";
export * from "./store/index.js";
