/** A port in use is one line and exit code 1 from `precept annotate serve` too (precept serve's own test is in openai-hardening.test.ts). */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { preceptArgs } from "../../test/helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-listen-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it("annotate serve on a port in use ends with one clear line, not a stack trace", async () => {
  const blocker = createServer();
  const busy = await new Promise<number>((resolve) =>
    blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)),
  );
  try {
    const result = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        preceptArgs("--db", join(tmp, "a.db"), "annotate", "serve", "--host", "127.0.0.1", "--port", String(busy)),
      );
      let err = "";
      child.stderr.on("data", (d) => {
        err += d;
      });
      child.on("close", (code) => resolve({ code, err }));
    });
    expect(result.err.trim()).toBe(`precept: cannot listen on 127.0.0.1:${busy}: the port is in use (choose another with --port)`);
    expect(result.code).toBe(1);
  } finally {
    blocker.close();
  }
}, 60_000);
