/** Layer 7: constitutions as data (schema, loading with line numbers, content hash, importers, diff). */
export * from "./anthropic.js";
export * from "./anthropic-few-shot.js";
export * from "./anthropic-shape.js";
export * from "./diff.js";
export * from "./load.js";
export * from "./scaffolding.js";
export * from "./schema.js";
export * from "./stages.js";
