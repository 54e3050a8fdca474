/** Layer 2: Hugging Face causal LMs, tokenizers, generation, scoring and LoRA. */
export * from "./architecture.js";
export * from "./attention.js";
export * from "./batch.js";
export * from "./byte-tokenizer.js";
export * from "./chat-template.js";
export * from "./generate.js";
export * from "./gguf.js";
export * from "./gpt2.js";
export * from "./hub.js";
export * from "./io.js";
export * from "./llama.js";
export * from "./lora.js";
export * from "./model.js";
export * from "./rope.js";
export * from "./score.js";
export * from "./tokenizer.js";
