import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two cores: one test file at a time leaves the engine's threads a core each.
    fileParallelism: false,
    reporters: ["default"],
  },
});
