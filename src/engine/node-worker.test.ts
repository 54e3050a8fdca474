import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { threadCountFromEnv } from "./threads.js";

const child = fileURLToPath(new URL("../../test/helpers/worker-child.ts", import.meta.url));

function runChild(threads: string) {
  const result = spawnSync(process.execPath, ["--import", "tsx", child], {
    env: { ...process.env, PRECEPT_THREADS: threads },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { ...result, parsed: result.status === 0 ? JSON.parse(result.stdout.trim()) : null };
}

describe("Node Worker adapter", () => {
  it("runs kernels on the main thread plus worker threads and lets the process exit by itself when done", () => {
    const result = runChild("2");
    expect(result.error).toBeUndefined(); // a hang would end in a spawnSync timeout error
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    // Two engine threads: worker 0 runs small kernels inline on the main thread and large ones on its own thread; worker 1 is a thread.
    expect(result.parsed.threads).toBe(2);
    expect(result.parsed.sum).toBe(result.parsed.expected);
  });

  it("with one thread starts no worker and computes on the main thread", () => {
    const result = runChild("1");
    expect(result.status).toBe(0);
    expect(result.parsed.threads).toBe(0);
    expect(result.parsed.sum).toBe(result.parsed.expected);
  });

  it("reads the thread count from PRECEPT_THREADS with a clear error for bad values", () => {
    expect(threadCountFromEnv({ PRECEPT_THREADS: "3" })).toBe(3);
    expect(threadCountFromEnv({})).toBeGreaterThanOrEqual(1);
    expect(() => threadCountFromEnv({ PRECEPT_THREADS: "two" })).toThrow(/PRECEPT_THREADS must be a positive integer, got "two"/);
    expect(() => threadCountFromEnv({ PRECEPT_THREADS: "0" })).toThrow(/positive integer/);
  });
});
