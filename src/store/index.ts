/** Layer 5: persistence (SQLite and PostgreSQL), migrations and work claiming. */
export * from "./store.js";
