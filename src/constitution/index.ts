/** Layer 7: constitutions as data (schema, loading with line numbers, content hash, importers, diff). */
export * from "./anthropic.js";
export * from "./diff.js";
export * from "./load.js";
export * from "./schema.js";
