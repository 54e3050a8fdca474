export * from "./corpus.js";
export * from "./evaluate.js";
export * from "./facts.js";
export * from "./gold-metrics.js";
export * from "./judge.js";
export * from "./prompts.js";
export * from "./random.js";
export * from "./responses.js";
