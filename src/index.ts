/**
 * Precept: align language models with Constitutional AI and RLHF.
 * The package root re-exports the public API of each layer.
 */
export * from "./engine/index.js";
export { type Gpt2Config, gpt2ConfigSchema, gpt2Logits, initGpt2 } from "./models/gpt2.js";
