/** Layer 5: persistence (SQLite and PostgreSQL), migrations and work claiming. */

export * from "./jsonl.js";
export * from "./store.js";
