/**
 * The programs in examples/ run as a user runs them (`tsx examples/x.ts`,
 * "precept" resolved to the sources through tsconfig.json's paths), on the
 * sandbox model with tiny budgets; the CAI one against a real `precept serve`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { preceptArgs } from "./helpers/cli.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SANDBOX_BASE = join(ROOT, "models", "sandbox-base");
const tmp = mkdtempSync(join(tmpdir(), "precept-examples-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function example(name: string, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "examples", name), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 400_000,
    env: { ...process.env, PRECEPT_THREADS: "2" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe("examples/", () => {
  it("reward-model.ts trains a reward model from rows in code", () => {
    const out = join(tmp, "rm");
    const r = example("reward-model.ts", out);
    expect(r.code, r.err).toBe(0);
    console.log(r.out);
    // The loss falls (first step → last), and the held-out pairs are ranked right after training.
    const [first, last] = (/loss ([\d.]+) → ([\d.]+)/.exec(r.out) ?? []).slice(1).map(Number);
    expect(last).toBeLessThan((first as number) / 2);
    expect(Number(/held-out accuracy after: ([\d.]+)/.exec(r.out)?.[1])).toBe(1);
    expect(existsSync(join(out, "model.safetensors"))).toBe(true);
  }, 400_000);

  it("align-from-code.ts runs revise → SFT → label → DPO on the sandbox model", () => {
    const out = join(tmp, "align");
    const r = example("align-from-code.ts", out);
    expect(r.code, r.err).toBe(0);
    console.log(r.out);
    for (const dir of ["sl-cai", "dpo"]) expect(existsSync(join(out, dir, "model.safetensors")), dir).toBe(true);
    const pairs = readFileSync(join(out, "label", "preferences.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(pairs.length).toBeGreaterThan(0);
    expect(Object.keys(JSON.parse(pairs[0] as string))).toEqual(expect.arrayContaining(["prompt", "chosen", "rejected"]));
  }, 400_000);

  it("cai-openai.ts runs revise and label against precept serve", async () => {
    const port = await freePort();
    const server: ChildProcess = spawn(
      process.execPath,
      preceptArgs("--threads", "1", "serve", "--model", SANDBOX_BASE, "--port", String(port), "--name", "sandbox-base"),
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        let seen = "";
        server.stdout?.on("data", (chunk: Buffer) => {
          seen += chunk.toString();
          if (seen.includes("precept serve:")) resolve();
        });
        server.once("exit", (code) => reject(new Error(`precept serve exited (${code}) before listening`)));
      });
      const out = join(tmp, "cai-openai");
      const r = example("cai-openai.ts", `http://127.0.0.1:${port}/v1`, "sandbox-base", out);
      expect(r.code, r.err).toBe(0);
      console.log(r.out);
      expect(r.out).toMatch(/revise: (\d+)\/\1 prompts done/);
      expect(readFileSync(join(out, "revise", "sft.jsonl"), "utf8").trim().length).toBeGreaterThan(0);
      expect(existsSync(join(out, "label", "preferences.jsonl"))).toBe(true);
    } finally {
      server.kill("SIGTERM");
    }
  }, 400_000);
});
