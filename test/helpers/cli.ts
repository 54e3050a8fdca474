/** The `precept` command as tests run it: a child process that loads the TypeScript sources through tsx. */
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const PRECEPT_MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** Node's arguments for `precept ARGS...`. */
export function preceptArgs(...args: string[]): string[] {
  return ["--import", "tsx", PRECEPT_MAIN, ...args];
}

/** Runs `precept ARGS...` to the end (2 engine threads, at most 4 minutes). */
export function runPrecept(...args: string[]): { code: number | null; out: string; err: string } {
  const result = spawnSync(process.execPath, preceptArgs(...args), {
    encoding: "utf8",
    timeout: 240_000,
    env: { ...process.env, PRECEPT_THREADS: "2" },
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

/**
 * Runs `precept ARGS...` to the end without blocking this process (for tests that serve something the
 * child calls back); `env` is added to this process's environment and 2 engine threads.
 */
export function runPreceptAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, preceptArgs(...args), { env: { ...process.env, PRECEPT_THREADS: "2", ...env } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("close", (code) => resolve({ code, out, err }));
  });
}
