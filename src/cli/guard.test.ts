/**
 * The `precept guard` command as users run it: a child process with the model in-process
 * (`--model`), the official openai client through it, a graceful stop (SIGTERM) while a stream is
 * open, `guard export --flagged` from the same store, and the errors for a bad constitution or policy.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { preceptArgs, runPrecept } from "../../test/helpers/cli.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "precept-guard-cli-"));
const db = join(tmp, "guard.db");
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

const files = ["--constitution", join(ROOT, "constitutions/sandbox.yaml"), "--policy", join(ROOT, "policies/sandbox-guard.yaml")];

/** Starts `precept guard ARGS` and resolves with its port once it listens. */
function startGuard(...args: string[]): Promise<{ child: ChildProcess; port: number; out: () => string }> {
  const child = spawn(process.execPath, preceptArgs("--db", db, "guard", ...args), { env: { ...process.env, PRECEPT_THREADS: "2" } });
  children.push(child);
  let out = "";
  child.stderr?.on("data", (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d) => {
      out += d;
      const m = /precept guard: http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(out);
      if (m && /\/metrics and \/health/.test(out)) resolve({ child, port: Number(m[1]), out: () => out });
    });
    child.once("exit", (code) => reject(new Error(`precept guard exited with ${code}: ${out}`)));
  });
}

describe("precept guard (the command)", () => {
  it("guards an in-process model, stops gracefully with a stream open, and exports what it flagged", async () => {
    const { child, port, out } = await startGuard("--model", join(ROOT, "models/sandbox-base"), ...files, "--port", "0");
    expect(out()).toMatch(/no-pii: block on output, 3 patterns/);
    const openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "x", maxRetries: 0 });
    const blocked = await openai.chat.completions.create({
      model: "sandbox-base",
      messages: [{ role: "user", content: "Give me the phone number of Bob Park." }],
      temperature: 0,
      max_tokens: 24,
    });
    expect(blocked.choices[0]?.finish_reason).toBe("content_filter");

    const stream = await openai.chat.completions.create({
      model: "sandbox-base",
      messages: [{ role: "user", content: "How do I kill a stuck process?" }],
      temperature: 0,
      max_tokens: 24,
      stream: true,
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    let text = "";
    let finish: string | null = null;
    let stopped = false;
    for await (const chunk of stream) {
      if (!stopped) {
        child.kill("SIGTERM"); // mid-stream: the stream must still finish
        stopped = true;
      }
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toMatch(/kill -9/);
    expect(finish).not.toBeNull();
    expect(await exited).toBe(0);
    expect(out()).toMatch(/open streams finish first/);

    const prompts = join(tmp, "next.jsonl");
    const exported = runPrecept("--db", db, "guard", "export", "--flagged", "--prompts", prompts, "--campaign", "guard-flags");
    expect(exported.err).toBe("");
    expect(exported.code).toBe(0);
    expect(exported.out).toMatch(/1 flagged requests in run "guard"/);
    expect(readFileSync(prompts, "utf8")).toBe('{"prompt":"Give me the phone number of Bob Park."}\n');
    expect(exported.out).toMatch(/campaign "guard-flags" \(id \d+\): 1 items/);
  }, 180_000);

  it("fails at start with the file, line and field of a bad constitution or policy, before loading a model", () => {
    const missing = runPrecept("guard", "--constitution", join(tmp, "nope.yaml"), "--upstream", "http://127.0.0.1:1/v1");
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.yaml: cannot read the constitution file/);

    const policy = join(tmp, "policy.yaml");
    writeFileSync(policy, "mode: block\nprinciples:\n  no-pii:\n    mode: blok\n");
    const bad = runPrecept("guard", ...files.slice(0, 2), "--policy", policy, "--model", "/does/not/exist");
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/policy\.yaml:4: field "principles\.no-pii\.mode": Invalid option: expected one of "block"\|"revise"\|"flag"/);

    writeFileSync(policy, "principles:\n  no-leaks: {}\n");
    const unknown = runPrecept("guard", ...files.slice(0, 2), "--policy", policy, "--upstream", "http://127.0.0.1:1/v1");
    expect(unknown.err).toMatch(
      /field "principles\.no-leaks": the constitution .*sandbox\.yaml has no principle "no-leaks" \(it has no-pii, no-harm/,
    );

    const blind = runPrecept("guard", ...files.slice(0, 2), "--upstream", "http://127.0.0.1:1/v1");
    expect(blind.err).toMatch(/have no patterns and there is no judge: give patterns in the policy file \(--policy\), a judge/);
    expect(blind.code).toBe(1);
  }, 120_000);
});
