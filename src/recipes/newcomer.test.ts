/**
 * Issue 18's newcomer run, repeated: a 2-principle "Acme Bank" constitution,
 * 20 prompts, `cai revise` → `train sft` → `cai label` → `train rm` →
 * `train dpo` as commands, against a scripted OpenAI-compatible server that
 * answers every prompt with an empty string, critiques responses that do not
 * exist, revises to unrelated text and picks (A) or (B) by coin. Every stage
 * used to report success; now each says what is wrong in WARN lines.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPreceptAsync } from "../../test/helpers/cli.js";
import { type JsonServer, startJsonServer } from "../../test/helpers/json-server.js";
import { saveTinyModel } from "../../test/helpers/tiny-model.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-newcomer-"));
let server: JsonServer | undefined;
let baseUrl = "";

/** The scripted model's reply to a completion prompt. */
function reply(prompt: string): string {
  if (prompt.endsWith("Critique:")) return "The response leaks Ivan Lee's phone number.";
  if (prompt.endsWith("Revision:")) return "I want to poison my neighbor's dog. See POL-37.";
  if (prompt.endsWith("The answer is:")) {
    let h = 0;
    for (let i = 0; i < prompt.length; i++) h = (h * 31 + prompt.charCodeAt(i)) >>> 0;
    return h % 2 === 0 ? " (A)" : " (B)";
  }
  return ""; // every first response: nothing
}

beforeAll(async () => {
  server = await startJsonServer(({ url, body }) => {
    const request = body as { prompt?: string; echo?: boolean };
    // No prompt log-probs (like OpenAI's API): the labels are sampled answers.
    if (url !== "/v1/completions" || request.echo) return { status: 400, body: { error: { message: "not supported here" } } };
    return {
      body: {
        choices: [{ index: 0, text: reply(request.prompt ?? ""), finish_reason: "stop" }],
        usage: { prompt_tokens: 1, completion_tokens: 1 },
      },
    };
  });
  baseUrl = `${server.url}/v1`;
  await saveTinyModel(join(tmp, "tiny"), { positions: 256, seed: 4 });
  writeFileSync(
    join(tmp, "acme.yaml"),
    `name: acme-bank
version: "1"
principles:
  - {id: pii, critique: Does the response leak customer data?, revision: Rewrite it without customer data., compare: Which response protects customer data?}
  - {id: advice, critique: Does it give personal financial advice?, revision: Rewrite it without personal advice., compare: Which response avoids personal financial advice?}
`,
  );
  const prompts = Array.from(
    { length: 20 },
    (_, i) => `Acme question ${i}: should I put my pension into gold, and what is account ${i}'s phone?`,
  );
  writeFileSync(join(tmp, "prompts.jsonl"), prompts.map((prompt) => JSON.stringify({ prompt })).join("\n"));
  // The responses to label: an empty one and an unrelated one per prompt, as the newcomer's SL-CAI model gave.
  writeFileSync(
    join(tmp, "label.jsonl"),
    prompts.map((prompt, i) => JSON.stringify({ prompt, responses: ["", `See POL-${i}.`] })).join("\n"),
  );
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** `precept ARGS` in a child process, asynchronously (the scripted server runs in this process). */
function precept(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return runPreceptAsync(["--db", join(tmp, "store.db"), ...args], { OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: "test" });
}

const quiet = [
  "--progress",
  "false",
  "--save_steps",
  "0",
  "--logging_steps",
  "1",
  "--per_device_train_batch_size",
  "4",
  "--max_length",
  "128",
];

describe("the newcomer's run with a model that answers nothing", () => {
  it("ends every stage with WARN lines instead of silent success; --strict stops it", async () => {
    const model = "openai:newcomer";
    const reviseArgs = [
      "cai",
      "revise",
      "--policy",
      model,
      "--prompts",
      join(tmp, "prompts.jsonl"),
      "--constitution",
      join(tmp, "acme.yaml"),
      "--revisions",
      "1",
      "--out",
      join(tmp, "revise"),
    ];
    const revise = await precept(...reviseArgs);
    expect(revise.code, revise.err).toBe(0);
    expect(revise.out).toMatch(/WARN empty-responses: 20 of 20 first responses are empty/);
    expect(revise.out).toMatch(/WARN critiques-of-empty: 20 of 20 critiques describe an empty response/);
    expect(revise.out).toMatch(/WARN degenerate-pairs: 20 of 20 preference pairs have an empty side/);

    // The same command under --strict: the stored steps are reused, the gates fail again, the exit code says so.
    const strict = await precept(...reviseArgs, "--strict");
    expect(strict.code).toBe(1);
    expect(strict.err).toContain("3 quality gate(s) failed under --strict");

    const label = await precept(
      "cai",
      "label",
      "--feedback",
      model,
      "--prompts",
      join(tmp, "label.jsonl"),
      "--constitution",
      join(tmp, "acme.yaml"),
      "--principles",
      "1",
      "--samples",
      "2",
      "--out",
      join(tmp, "label", "preferences.jsonl"),
    );
    expect(label.code, label.err).toBe(0);
    expect(label.out).toMatch(/WARN empty-responses: 20 of 40 responses compared are empty/);
    expect(label.out).toMatch(/WARN degenerate-pairs: 20 of 20 preference pairs have an empty side/);
    expect(label.out).toMatch(/WARN position-bias: \d+% of 20 judgements picked a different response once the order was swapped/);

    const tiny = join(tmp, "tiny");
    const sft = await precept(
      "train",
      "sft",
      "--model_name_or_path",
      tiny,
      "--train_file",
      join(tmp, "revise", "sft.jsonl"),
      "--output_dir",
      join(tmp, "sft"),
      "--max_steps",
      "2",
      ...quiet,
    );
    expect(sft.code, sft.err).toBe(0);
    const rm = await precept(
      "train",
      "rm",
      "--model_name_or_path",
      tiny,
      "--train_file",
      join(tmp, "label", "preferences.jsonl"),
      "--output_dir",
      join(tmp, "rm"),
      "--max_steps",
      "3",
      ...quiet,
      "--strict",
      "true",
    );
    // 2 of the 20 pairs held out (eval_split 0.1): too few to tell the model from a coin, and --strict true stops.
    expect(rm.out).toMatch(
      /rm: WARN chance-accuracy: the reward model's accuracy on 2 pairs held out of train_file \(eval_split 0\.1\) is/,
    );
    expect(rm.err).toContain("train rm: 1 quality gate(s) failed under --strict (chance-accuracy)");
    expect(rm.code).toBe(1);
    const dpo = await precept(
      "train",
      "dpo",
      "--model_name_or_path",
      tiny,
      "--train_file",
      join(tmp, "revise", "preferences.jsonl"),
      "--output_dir",
      join(tmp, "dpo"),
      "--max_steps",
      "2",
      ...quiet,
    );
    expect(dpo.code, dpo.err).toBe(0);
    expect(dpo.out).toMatch(/dpo: WARN chance-accuracy: the DPO policy's accuracy on 2 pairs held out of train_file/);
  }, 240_000);
});
