export * from "./accuracy.js";
export * from "./gate.js";
export * from "./kl.js";
export * from "./labels.js";
export * from "./preferences.js";
export * from "./responses.js";
export * from "./revisions.js";
