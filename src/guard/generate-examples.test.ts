/**
 * `precept guard train --generate`: labelled replies written from the constitution by a provider
 * (here a scripted OpenAI-compatible server on a real socket, reached with the project's OpenAI
 * provider), labelled by how they were asked for, kept as store records so a rerun asks only for
 * what is missing, then trained into a head per principle on a tiny model.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPreceptAsync } from "../../test/helpers/cli.js";
import { type JsonServer, startJsonServer } from "../../test/helpers/json-server.js";
import { saveTinyModel } from "../../test/helpers/tiny-model.js";
import { loadConstitution } from "../constitution/load.js";
import { OpenAiProvider } from "../providers/openai.js";
import { openStore } from "../store/store.js";
import { exampleKey, generateExamples } from "./generate-examples.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-guard-generate-"));
let server: JsonServer | undefined;
let baseUrl = "";
/** Each request the server answered: principle, side, prompt. */
const requests: { principle: string; violates: boolean; prompt: string }[] = [];
/** Prompts whose first violating reply comes back empty (a provider's bad moment). */
const emptyOnce = new Set(["How do I reset my card PIN?"]);

const LOOK_ALIKE = "How do I kill a stuck process?";
const LOOK_ALIKE_REPLY = "Find its id with ps, then run kill -9 on it.";
const REPLIES: Record<string, { violating: string; compliant: string }> = {
  "no-pii": { violating: "Sure, the customer's phone number is 555-0100.", compliant: "I can't share customer details." },
  "no-harm": { violating: "Here is how to hurt them, step by step.", compliant: "I won't help with hurting anyone." },
};

beforeAll(async () => {
  server = await startJsonServer(({ body }) => {
    const { messages } = body as { messages?: { role: string; content: string }[] };
    const text = messages?.at(-1)?.content ?? "";
    const principle = /^Principle "([^"]+)"/.exec(text)?.[1] ?? "";
    const prompt = /The user's request: (.*)\n/.exec(text)?.[1] ?? "";
    const violates = text.includes("breaks this principle");
    requests.push({ principle, violates, prompt });
    let content = text.includes("This request is harmless")
      ? LOOK_ALIKE_REPLY
      : (REPLIES[principle]?.[violates ? "violating" : "compliant"] ?? "");
    if (violates && emptyOnce.delete(prompt)) content = "";
    return {
      body: {
        choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
        usage: { prompt_tokens: 1, completion_tokens: 1 },
      },
    };
  });
  baseUrl = `${server.url}/v1`;
  writeFileSync(
    join(tmp, "bank.yaml"),
    `name: bank
version: "1"
principles:
  - {id: no-pii, critique: Does the response leak customer data?, revision: Rewrite it without customer data., compare: Which response protects customer data?}
  - {id: no-harm, critique: Does the response help hurt someone?, revision: Rewrite it without help with harm., compare: Which response is less harmful?}
`,
  );
  await saveTinyModel(join(tmp, "tiny"), { positions: 128, seed: 2 });
}, 60_000);
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const prompts = (n: number) => ["How do I reset my card PIN?", ...Array.from({ length: n - 1 }, (_, i) => `Customer question ${i}?`)];

/** `precept ARGS` in a child process, asynchronously (the scripted server runs in this process). */
function precept(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return runPreceptAsync(args, { OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: "test" });
}

describe("guard examples generated from the constitution", () => {
  it("labels each reply by what was asked for, stores it once, and a rerun asks only for what is missing", async () => {
    const constitution = loadConstitution(join(tmp, "bank.yaml"));
    const provider = new OpenAiProvider({ model: "scripted", baseUrl, apiKey: "test", maxRetries: 0 });
    const store = await openStore(join(tmp, "library.db"));
    try {
      requests.length = 0;
      const lookAlikes = [LOOK_ALIKE];
      const first = await generateExamples({ constitution, provider, prompts: prompts(6), lookAlikes, store, run: "examples" });
      // 2 principles × (6 prompts × 2 sides + 1 look-alike) asked; one violating reply came back empty and is not kept.
      expect(requests).toHaveLength(26);
      expect(first).toMatchObject({ generated: 25, reused: 0, empty: 1 });
      expect(first.examples).toHaveLength(25);
      for (const e of first.examples) {
        const replies = REPLIES[e.principle] as { violating: string; compliant: string };
        const expected = e.prompt === LOOK_ALIKE ? LOOK_ALIKE_REPLY : e.violates ? replies.violating : replies.compliant;
        expect(e.response).toBe(expected);
      }
      // The look-alike's helpful answer is a compliant example for every principle.
      expect(first.examples.filter((e) => e.prompt === LOOK_ALIKE).map((e) => [e.principle, e.violates])).toEqual([
        ["no-pii", false],
        ["no-harm", false],
      ]);
      expect(first.examples.filter((e) => e.violates)).toHaveLength(11);

      // The rerun with two more prompts: the empty reply is asked for again, plus the new prompts' 8; nothing twice.
      requests.length = 0;
      // A rerun is a new process: a new provider, whose in-memory response cache does not hold the empty reply.
      const rerun = new OpenAiProvider({ model: "scripted", baseUrl, apiKey: "test", maxRetries: 0 });
      const second = await generateExamples({ constitution, provider: rerun, prompts: prompts(8), lookAlikes, store, run: "examples" });
      expect(requests).toHaveLength(9);
      expect(requests).toContainEqual({ principle: "no-pii", violates: true, prompt: "How do I reset my card PIN?" });
      expect(second).toMatchObject({ generated: 9, reused: 25, empty: 0 });
      expect(second.examples).toHaveLength(34);
      const records = await store.records("examples", "generation");
      expect(records).toHaveLength(34);
      expect(new Set(records.map((r) => r.key)).size).toBe(34);
      const pin = records.find((r) => r.key === exampleKey("no-pii", "How do I reset my card PIN?", "violating"));
      expect(pin).toMatchObject({ principleId: "no-pii", modelId: "openai:scripted", data: { violates: true } });

      await expect(
        generateExamples({ constitution, provider, prompts: prompts(2), store, run: "examples", principles: ["no-spam"] }),
      ).rejects.toThrow(/--principles: no-spam not in the constitution "bank" \(it has no-pii, no-harm\)/);
    } finally {
      await store.close();
    }
  }, 60_000);

  it("precept guard train --generate trains a head per principle; the same command again asks only for the reply that came back empty", async () => {
    const file = join(tmp, "prompts.jsonl");
    const jsonl = (rows: string[]) => `${rows.map((prompt) => JSON.stringify({ prompt })).join("\n")}\n`;
    writeFileSync(file, jsonl(prompts(20)));
    const lookAlikes = join(tmp, "look-alikes.jsonl");
    writeFileSync(lookAlikes, jsonl([LOOK_ALIKE, "How do I shoot a good photo?"]));
    const args = [
      "--db",
      join(tmp, "cli.db"),
      "guard",
      "train",
      "--generate",
      "--provider",
      "openai:scripted",
      "--prompts",
      file,
      "--look-alikes",
      lookAlikes,
      "--constitution",
      join(tmp, "bank.yaml"),
      "--base-model",
      join(tmp, "tiny"),
      "--out",
      join(tmp, "classifier"),
      "--epochs",
      "1",
      "--target-fpr",
      "0.2",
    ];
    emptyOnce.add("How do I reset my card PIN?");
    requests.length = 0;
    const first = await precept(...args);
    expect(first.code, first.err).toBe(0);
    expect(requests).toHaveLength(84);
    expect(first.out).toContain('run "guard-examples"');
    expect(first.out).toMatch(/83 replies generated now, 0 kept from before, 1 empty \(WARN: not used/);
    expect(first.out).toContain("precept guard train: 83 labelled replies");
    const manifest = JSON.parse(readFileSync(join(tmp, "classifier", "guard-classifier.json"), "utf8")) as {
      principles: Record<
        string,
        { train_pairs: number; threshold: number; held_out: { compliant: number; violating: number; falsePositiveRate: number } }
      >;
    };
    expect(Object.keys(manifest.principles).sort()).toEqual(["no-harm", "no-pii"]);
    for (const head of Object.values(manifest.principles)) {
      expect(head.train_pairs).toBeGreaterThan(0);
      expect(head.held_out.compliant).toBeGreaterThan(0);
      expect(head.held_out.violating).toBeGreaterThan(0);
      // The threshold is set on the held-out compliant replies for --target-fpr 0.2.
      expect(head.held_out.falsePositiveRate).toBeLessThanOrEqual(0.2);
      expect(Number.isFinite(head.threshold)).toBe(true);
    }

    requests.length = 0;
    const again = await precept(...args, "--principles", "no-pii");
    expect(again.code, again.err).toBe(0);
    expect(requests).toEqual([{ principle: "no-pii", violates: true, prompt: "How do I reset my card PIN?" }]);
    expect(again.out).toMatch(/1 replies generated now, 41 kept from before/);
    expect(again.out).toContain("precept guard train: 42 labelled replies");

    const missing = await precept("guard", "train", "--generate", "--base-model", join(tmp, "tiny"), "--out", join(tmp, "x"));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("--generate needs --provider ID (who writes the replies), --prompts FILE and --constitution FILE");
    const both = await precept("guard", "train", "--generate", "--sandbox", "--base-model", join(tmp, "tiny"), "--out", join(tmp, "x"));
    expect(both.code).toBe(1);
    expect(both.err).toContain("give the labelled examples: --data FILE, --sandbox or --generate (one of them)");
  }, 240_000);
});
