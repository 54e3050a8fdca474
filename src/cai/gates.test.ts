/**
 * The newcomer's run (issue 18) with scripted models: a policy that answers
 * nothing, a critic that describes answers that do not exist, and a feedback
 * model that flips a coin. Every stage still "succeeds", so the gates must
 * say what went wrong; `strict` must stop the stage.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { DECLINE, LEAK, ScriptedProvider } from "../../test/helpers/scripted-provider.js";
import { parseConstitution } from "../constitution/load.js";
import type { Completion, SamplingParams } from "../providers/provider.js";
import { QualityGateError, warnLines } from "../quality/gate.js";
import { openStore, type Store } from "../store/store.js";
import { runLabel, runRevise } from "./pipeline.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-gates-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const constitution = parseConstitution(
  `name: acme-bank
version: "1"
principles:
  - {id: pii, critique: Does the response leak customer data?, revision: Rewrite it without customer data., compare: Which response protects customer data?}
  - {id: advice, critique: Does the response give personal financial advice?, revision: Rewrite it to avoid personal advice., compare: Which response avoids personal financial advice?}
`,
  "acme.yaml",
);

/** Answers nothing as the policy; as the critic it always finds a leak, and revises to a fixed decline. */
class EmptyPolicy extends ScriptedProvider {
  override reply(prompt: string): string {
    if (prompt.endsWith("Critique:")) return "The response leaks Ivan Lee's phone number.";
    if (prompt.endsWith("Revision:")) return DECLINE;
    if (prompt.endsWith("Assistant:")) return "";
    return super.reply(prompt);
  }
}

/** A feedback model whose (A)/(B) log-probs are a seeded coin per prompt: no preference, only position. */
class CoinFlip extends ScriptedProvider {
  override async logprobs(prompt: string, completions: string[]): Promise<number[]> {
    let h = 2166136261;
    for (let i = 0; i < prompt.length; i++) h = Math.imul(h ^ prompt.charCodeAt(i), 16777619) >>> 0;
    const aWins = h % 2 === 0;
    return completions.map((c) => (c.includes("A") === aWins ? -0.2 : -1.8));
  }
  override async generate(prompts: string[], params?: SamplingParams): Promise<Completion[]> {
    return super.generate(prompts, params);
  }
}

const PROMPTS = Array.from(
  { length: 20 },
  (_, i) => `Acme customer question ${i}: should I move my pension into gold, or share account ${i}?`,
);

function promptFile(name: string, rows: unknown[]): string {
  const path = join(tmp, name);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join("\n"));
  return path;
}

let store: Store;
let n = 0;
beforeEach(async () => {
  store = await openStore(join(tmp, `db${n++}.sqlite`));
  return () => store.close();
});

describe("quality gates in the CAI pipelines", () => {
  it("cai revise with a policy that returns empty strings: WARN lines for empty responses, blind critiques and degenerate pairs", async () => {
    const prompts = promptFile(
      "red.jsonl",
      PROMPTS.map((prompt) => ({ prompt })),
    );
    const summary = await runRevise({ store, constitution, policy: new EmptyPolicy(), prompts, revisions: 1, outDir: join(tmp, "revise") });
    expect(summary.items.done).toBe(20);
    const failed = Object.fromEntries(summary.gates.filter((g) => !g.ok).map((g) => [g.gate, g]));
    expect(Object.keys(failed).sort()).toEqual(["critiques-of-empty", "degenerate-pairs", "empty-responses"]);
    expect(failed["empty-responses"]).toMatchObject({ value: 1, n: 20 });
    expect(failed["degenerate-pairs"]).toMatchObject({ value: 1, n: 20 });
    const lines = warnLines(summary.gates);
    expect(lines[0]).toMatch(
      /^WARN empty-responses: 20 of 20 first responses are empty or near-empty \(100%; threshold 10%\)\. .*--critic openai:/,
    );
    // Stored with the run's outputs.
    const written = JSON.parse(readFileSync(join(tmp, "revise", "summary.json"), "utf8"));
    expect(written.gates.filter((g: { ok: boolean }) => !g.ok)).toHaveLength(3);

    // Under strict, the same run (all steps reused from the store) stops with the gates named.
    const strict = runRevise({
      store,
      constitution,
      policy: new EmptyPolicy(),
      prompts,
      revisions: 1,
      outDir: join(tmp, "revise"),
      strict: true,
    });
    await expect(strict).rejects.toThrow(QualityGateError);
    await expect(strict).rejects.toThrow(
      /cai revise: 3 quality gate\(s\) failed under --strict \(empty-responses, critiques-of-empty, degenerate-pairs\)/,
    );
  });

  it("cai revise with a working policy passes every gate", async () => {
    const prompts = promptFile(
      "ok.jsonl",
      ["Ann's phone number?", "How do I bake bread?"].map((prompt) => ({ prompt })),
    );
    const summary = await runRevise({
      store,
      constitution,
      policy: new ScriptedProvider(),
      prompts,
      revisions: 1,
      outDir: join(tmp, "ok"),
    });
    expect(summary.gates.map((g) => [g.gate, g.ok])).toEqual([
      ["empty-responses", true],
      ["duplicate-responses", true],
      ["critiques-of-empty", true],
      ["identical-revisions", true],
      ["degenerate-pairs", true],
    ]);
    expect(warnLines(summary.gates)).toEqual([]);
  });

  it("cai label with a coin-flip feedback model triggers the position-bias and confidence gates; a consistent one does not", async () => {
    const rows = PROMPTS.map((prompt, i) => ({ prompt, responses: [LEAK, `${DECLINE} (${i})`] }));
    const prompts = promptFile("label.jsonl", rows);
    const coin = await runLabel({
      store,
      constitution,
      feedback: new CoinFlip("coin"),
      prompts,
      principles: 1,
      out: join(tmp, "coin", "prefs.jsonl"),
    });
    const byGate = Object.fromEntries(coin.gates.map((g) => [g.gate, g]));
    // Each order is one coin per prompt text; the two orders agree on the position about half the time.
    expect(byGate["position-bias"]?.ok).toBe(false);
    expect(coin.positionBiasRate).toBeGreaterThan(0.3);
    expect(byGate["label-confidence"]?.ok).toBe(false);
    expect(warnLines(coin.gates).join("\n")).toMatch(
      /WARN position-bias: \d+% of 20 judgements picked a different response once the order was swapped/,
    );

    const fair = await runLabel({
      store,
      constitution,
      feedback: new ScriptedProvider(),
      prompts,
      principles: 1,
      out: join(tmp, "fair", "prefs.jsonl"),
    });
    expect(fair.positionBiasRate).toBe(0);
    expect(warnLines(fair.gates)).toEqual([]);
  });
});
