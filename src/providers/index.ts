/** Layer 6: model backends behind one interface. */
export * from "./anthropic.js";
export * from "./http.js";
export * from "./llama.js";
export * from "./local.js";
export * from "./open.js";
export * from "./openai.js";
export * from "./provider.js";
export * from "./store-cache.js";
