import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InlineWorker } from "./node-worker.js";
import { threadCountFromEnv } from "./threads.js";

const child = fileURLToPath(new URL("../../test/helpers/worker-child.ts", import.meta.url));
const firstKernelChild = fileURLToPath(new URL("../../test/helpers/first-kernel-child.ts", import.meta.url));

/**
 * A worker script that answers `init` only after 300 ms when it runs on a
 * thread (as a thread that starts slowly under load would), at once inline,
 * and answers every kernel with its `id`.
 */
const SLOW_START_SCRIPT = `
self.onmessage = (e) => {
  if (e.data.type === "init") {
    if (self === globalThis) { const until = Date.now() + 300; while (Date.now() < until); }
    postMessage({ type: "ready" });
  } else postMessage({ type: "done", ok: true, id: e.data.id });
};
`;

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

  it("never passes the offload thread's answer to init off as a kernel's reply (a kernel posted before the thread is up)", async () => {
    const url = URL.createObjectURL(new Blob([SLOW_START_SCRIPT], { type: "application/javascript" }));
    const worker = new InlineWorker(url);
    const replies: unknown[] = [];
    let wake = () => {};
    worker.onmessage = (event) => {
      replies.push(event.data);
      wake();
    };
    const next = (count: number) =>
      new Promise<void>((resolve) => {
        wake = () => replies.length >= count && resolve();
        wake();
      });
    try {
      worker.postMessage({ type: "init" });
      await next(1); // the inline half is ready at once
      // Large enough for the offload thread, which is still answering init.
      worker.postMessage({ type: "kernel", id: 7, begin: 0, end: 1 << 20 });
      await next(2);
      expect(replies).toEqual([{ type: "ready" }, { type: "done", ok: true, id: 7 }]);
    } finally {
      worker.terminate();
      URL.revokeObjectURL(url);
    }
  });

  it("computes the first kernel of a fresh process right when it goes to a thread that is still starting (6 processes)", () => {
    // Before the fix above, 7 of 12 such processes read a half-written result under load.
    for (let run = 0; run < 6; run++) {
      const result = spawnSync(process.execPath, ["--import", "tsx", firstKernelChild], {
        env: { ...process.env, PRECEPT_THREADS: "2" },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(result.stderr).toBe("");
      expect(JSON.parse(result.stdout.trim())).toEqual({ wrong: 0 });
    }
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
