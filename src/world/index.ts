export * from "./corpus.js";
export * from "./facts.js";
export * from "./judge.js";
export * from "./prompts.js";
export * from "./random.js";
export * from "./responses.js";
