/** `precept generate` on the shipped sandbox model (a bare directory, as --model takes it), and the library call on a scripted provider. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runPrecept } from "../../test/helpers/cli.js";
import { HELP, LEAK, ScriptedProvider } from "../../test/helpers/scripted-provider.js";
import { generateResponses } from "./generate.js";
import { SANDBOX_BASE } from "./sandbox.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-generate-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const rows = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("precept generate", () => {
  it("writes greedy responses of a real model as JSONL; WARN lines for the empty ones, and --strict exits 1", () => {
    const prompts = join(tmp, "prompts.jsonl");
    // An in-world request the sandbox model was trained on, and two out-of-world questions it has no answer for.
    writeFileSync(
      prompts,
      ["How do I reset my password?", "Should I put my pension into gold?", "What is the phone number of Ivan Lee?"]
        .map((prompt) => JSON.stringify({ prompt }))
        .join("\n"),
    );
    const out = join(tmp, "greedy.jsonl");
    const run = runPrecept("generate", "--model", SANDBOX_BASE, "--prompts", prompts, "--out", out, "--max-tokens", "24", "--strict");
    expect(run.err).toContain("quality gate failed under --strict");
    expect(run.code).toBe(1);
    const greedy = rows(out);
    expect(greedy.map((r) => [r.prompt, r.model, r.sample, r.temperature, r.format])).toEqual([
      ["How do I reset my password?", `local:${SANDBOX_BASE}`, 0, 0, "chat"],
      ["Should I put my pension into gold?", `local:${SANDBOX_BASE}`, 0, 0, "chat"],
      ["What is the phone number of Ivan Lee?", `local:${SANDBOX_BASE}`, 0, 0, "chat"],
    ]);
    expect(String(greedy[0]?.completion).length).toBeGreaterThan(5);
    const empty = greedy.filter((r) => String(r.completion).trim().length < 3).length;
    expect(run.out).toContain(`WARN empty-responses: ${empty} of 3 responses are empty or near-empty`);
    expect(empty).toBeGreaterThan(0);

    // Sampled: two seeds per prompt, recorded in each row.
    const sampledOut = join(tmp, "sampled.jsonl");
    const sampled = runPrecept(
      "generate",
      "--model",
      SANDBOX_BASE,
      "--prompts",
      prompts,
      "--out",
      sampledOut,
      "--limit",
      "1",
      "--samples",
      "2",
      "--temperature",
      "1",
      "--max-tokens",
      "24",
    );
    expect(sampled.code, sampled.err).toBe(0);
    const two = rows(sampledOut);
    expect(two.map((r) => r.sample)).toEqual([0, 1]);
    expect(two[0]?.seed).not.toBe(two[1]?.seed);
    expect(sampled.out).toContain("temperature 1");
  }, 120_000);

  it("as a library call: names malformed rows by file:line and judges the responses", async () => {
    const prompts = join(tmp, "scripted.jsonl");
    writeFileSync(
      prompts,
      [JSON.stringify({ prompt: "Ann's phone number?" }), "{oops", JSON.stringify({ prompt: "Bake bread?" })].join("\n"),
    );
    const summary = await generateResponses({
      provider: new ScriptedProvider(),
      prompts,
      out: join(tmp, "scripted-out.jsonl"),
      format: "text",
    });
    expect(summary.badRows).toHaveLength(1);
    expect(summary.badRows[0]).toContain(`${prompts}:2`);
    expect(rows(summary.out).map((r) => r.completion)).toEqual([LEAK, HELP]);
    expect(summary.gates.every((g) => g.ok)).toBe(true);
    await expect(
      generateResponses({ provider: new ScriptedProvider(), prompts: join(tmp, "missing.jsonl"), out: join(tmp, "x.jsonl") }),
    ).rejects.toThrow(/missing\.jsonl/);
  });
});
