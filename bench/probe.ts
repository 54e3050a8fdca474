import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { blasEnv } from "./torch-available.js";

/**
 * Runs a probe script (bench/<name>.ts) in a fresh process with `threads`
 * engine threads (jax-js fixes its thread count at start) and returns the JSON
 * of its last output line.
 */
export function runProbe<T>(name: string, threads: number): T {
  const script = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const output = execFileSync(process.execPath, ["--import", "tsx", script], {
    env: blasEnv({ PRECEPT_THREADS: String(threads) }),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(output.trim().split("\n").pop() as string) as T;
}
