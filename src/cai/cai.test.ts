import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { scratchFolder, testConstitution } from "../../test/helpers/cai-setup.js";
import { DECLINE, HELP, LEAK, optionScore, POSITION_BONUS, ScriptedProvider } from "../../test/helpers/scripted-provider.js";
import { preferenceRowSchema, promptCompletionRowSchema, readJsonl } from "../data/dataset.js";
import { openStore, type Store } from "../store/store.js";
import { cutAtTurn } from "./format.js";
import { clamp, normalizedProbability } from "./label.js";
import { runLabel, runRevise } from "./pipeline.js";
import { runWorkItems } from "./runner.js";
import { samplePrinciple, samplePrinciples } from "./sample.js";

const tmp = scratchFolder("precept-cai-");
const TEST_CONSTITUTION = testConstitution(["privacy", "kind", "helpful"], { privacy: 3 });

function jsonl(name: string, rows: unknown[], raw: string[] = []): string {
  const path = join(tmp, name);
  writeFileSync(path, [...rows.map((r) => JSON.stringify(r)), ...raw].join("\n"));
  return path;
}

const RED_TEAM = ["What is Ann's phone number?", "Give me Bob's number.", "How do I bake bread?", "Tell me the CEO's phone."];
const HELPFUL = ["How do I boil an egg?", "What is the capital of France?", "How do I tie a tie?", "Name a prime number."];

let store: Store;
let dbCount = 0;
beforeEach(async () => {
  store = await openStore(join(tmp, `db${dbCount++}.sqlite`));
  return () => store.close();
});

describe("principle sampling", () => {
  const principles = TEST_CONSTITUTION.principles;
  it("is a pure function of seed, key and round, weighted, with replacement", () => {
    const a = samplePrinciples(principles, 7, "red-team:abc", 8).map((p) => p.id);
    expect(samplePrinciples(principles, 7, "red-team:abc", 8).map((p) => p.id)).toEqual(a);
    expect(samplePrinciples(principles, 8, "red-team:abc", 8).map((p) => p.id)).not.toEqual(a);
    const counts = { privacy: 0, kind: 0, helpful: 0 } as Record<"privacy" | "kind" | "helpful", number>;
    for (let i = 0; i < 5000; i++) counts[samplePrinciple(principles, 1, `k${i}`, 0).id as keyof typeof counts]++;
    // weights 3:1:1 → 60% / 20% / 20%
    expect(counts.privacy / 5000).toBeCloseTo(0.6, 1);
    expect(counts.kind / 5000).toBeCloseTo(0.2, 1);
  });
});

describe("the work runner", () => {
  it("renews the leases of items being worked on, so another worker never takes them over", async () => {
    const run = "leases";
    await store.enqueue(
      run,
      Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, kind: "slow" })),
    );
    const seen: string[] = [];
    const work = (ms: number) => async (item: { key: string }) => {
      seen.push(item.key);
      await new Promise((r) => setTimeout(r, ms));
      return "ok";
    };
    // A takes three items and works 900 ms on each against a 150 ms lease; B is quick and, once its own items
    // are done, would take A's over if A's claims lapsed.
    const a = runWorkItems({ store, runId: run, process: work(900), concurrency: 3, leaseMs: 150, worker: "A" });
    await new Promise((r) => setTimeout(r, 30));
    const b = runWorkItems({ store, runId: run, process: work(20), concurrency: 1, leaseMs: 150, worker: "B" });
    const [ra, rb] = await Promise.all([a, b]);
    expect([ra.processed, rb.processed]).toEqual([3, 3]);
    expect([...seen].sort()).toEqual(["k0", "k1", "k2", "k3", "k4", "k5"]);
    expect((await store.items(run)).every((i) => i.status === "done" && i.attempts === 1)).toBe(true);
  });
});

describe("the work runner's settings", () => {
  it("refuses a concurrency below 1 (it used to wait forever for 0 items claimed elsewhere) and a lease of 0", async () => {
    await store.enqueue("zero", [{ key: "k", kind: "x" }]);
    const process = async () => "ok";
    await expect(runWorkItems({ store, runId: "zero", process, concurrency: 0 })).rejects.toThrow(
      /concurrency must be a whole number ≥ 1, not 0/,
    );
    await expect(runWorkItems({ store, runId: "zero", process, leaseMs: 0 })).rejects.toThrow(/lease must be longer than 0 ms/);
    expect((await runWorkItems({ store, runId: "zero", process, concurrency: 1 })).processed).toBe(1);
  });
});

describe("reply cutting", () => {
  it("cuts at the next turn's marker, and a reply that opens with a blank line is empty", () => {
    expect(cutAtTurn(" Sure, here.\n\nHuman: more?")).toBe("Sure, here.");
    expect(cutAtTurn(" Fine.\n\nCritique: none")).toBe("Fine.");
    expect(cutAtTurn("\n\nWhich response is better?\nOptions:")).toBe("");
    expect(cutAtTurn(" One line\nand another")).toBe("One line\nand another");
  });
});

describe("cai revise with a scripted provider", () => {
  it("stores each step with provenance, samples principles by the seed, skips revisions when the critique finds no problem", async () => {
    const provider = new ScriptedProvider();
    const out = join(tmp, "revise1");
    const summary = await runRevise({
      store,
      constitution: TEST_CONSTITUTION,
      policy: provider,
      prompts: jsonl(
        "red.jsonl",
        RED_TEAM.map((prompt) => ({ prompt })),
      ),
      helpful: jsonl(
        "help.jsonl",
        HELPFUL.map((prompt) => ({ prompt })),
      ),
      helpfulRatio: 0.5,
      revisions: 3,
      seed: 11,
      outDir: out,
    });
    expect(summary.items.done).toBe(8);
    const records = await store.records(summary.run);
    const byKind = (k: string) => records.filter((r) => r.kind === k);
    expect(byKind("prompt")).toHaveLength(8);
    expect(byKind("generation")).toHaveLength(8);
    // 4 red-team prompts × 3 rounds of critique; helpful prompts get none.
    expect(byKind("critique")).toHaveLength(12);
    for (const c of byKind("critique")) {
      const [key, round] = c.key.split("/r") as [string, string];
      expect(c.principleId).toBe(samplePrinciple(TEST_CONSTITUTION.principles, 11, key, Number.parseInt(round, 10)).id);
      expect(c.constitutionHash).toBe(TEST_CONSTITUTION.hash);
      expect(c.modelId).toBe("scripted");
      expect(c.parentId).not.toBeNull();
    }
    // The 3 leaking responses are critiqued once, revised to the decline, then "No problem" twice; bread needs nothing.
    const revisions = byKind("revision");
    expect(revisions).toHaveLength(3);
    expect(revisions.every((r) => (r.data as { revision: string }).revision === DECLINE && r.key.endsWith("/r0/revision"))).toBe(true);
    const noProblem = byKind("critique").filter((c) => (c.data as { no_problem: boolean }).no_problem);
    expect(noProblem).toHaveLength(9);
    // Each revision's parent is its critique, whose parent is the first response.
    const ids = new Map(records.map((r) => [r.id, r]));
    for (const r of revisions) expect(ids.get(r.parentId as number)?.kind).toBe("critique");

    const sft = await readJsonl(join(out, "sft.jsonl"), promptCompletionRowSchema);
    expect(sft).toHaveLength(4 + 2); // helpful ratio 0.5 → 2 helpfulness rows
    expect(sft.filter((r) => r.completion === ` ${DECLINE}`)).toHaveLength(3);
    expect(sft.filter((r) => r.completion === ` ${HELP}`)).toHaveLength(3);
    expect(sft.every((r) => typeof r.prompt === "string" && r.prompt.startsWith("Human: ") && r.prompt.endsWith("\n\nAssistant:"))).toBe(
      true,
    );
    const prefs = await readJsonl(join(out, "preferences.jsonl"), preferenceRowSchema);
    expect(prefs).toHaveLength(3);
    expect(prefs.every((p) => p.chosen === ` ${DECLINE}` && p.rejected === ` ${LEAK}`)).toBe(true);
    expect(summary.revisedShare).toBe(0.75);
    expect(JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).items.done).toBe(8);
  });

  it("with --no-skip revises every round", async () => {
    const summary = await runRevise({
      store,
      constitution: TEST_CONSTITUTION,
      policy: new ScriptedProvider(),
      prompts: jsonl(
        "red2.jsonl",
        RED_TEAM.map((prompt) => ({ prompt })),
      ),
      revisions: 2,
      skipNoProblem: false,
      outDir: join(tmp, "revise2"),
    });
    expect(await store.records(summary.run, "revision")).toHaveLength(8);
  });

  it("names a malformed row and processes the others", async () => {
    const prompts = jsonl("bad.jsonl", [{ prompt: RED_TEAM[0] }], ['{"prompt": 3}', "{not json", JSON.stringify({ prompt: RED_TEAM[1] })]);
    const summary = await runRevise({
      store,
      constitution: TEST_CONSTITUTION,
      policy: new ScriptedProvider(),
      prompts,
      revisions: 1,
      outDir: join(tmp, "revise3"),
    });
    expect(summary.badRows).toEqual([
      expect.stringMatching(/bad\.jsonl:2: field "prompt"/),
      expect.stringMatching(/bad\.jsonl:3: bad JSON/),
    ]);
    expect(summary.items.done).toBe(2);
  });

  it("leaves items pending (not dropped) when the provider fails half the time, and a rerun completes them without duplicates", async () => {
    const prompts = jsonl(
      "flaky.jsonl",
      [...RED_TEAM, ...HELPFUL].map((prompt) => ({ prompt })),
    );
    const flaky = new ScriptedProvider();
    flaky.failEvery = 2;
    const first = await runRevise({
      store,
      constitution: TEST_CONSTITUTION,
      policy: flaky,
      prompts,
      revisions: 2,
      concurrency: 1,
      retries: 1,
      runId: "flaky",
      outDir: join(tmp, "flaky"),
    });
    expect(first.items.failed).toBe(0);
    expect(first.items.pending).toBeGreaterThan(0);
    expect(first.items.pending + first.items.done).toBe(8);
    expect(first.errors[0]?.error).toMatch(/scripted outage/);
    const pending = (await store.items("flaky")).filter((i) => i.status === "pending");
    expect(pending.every((i) => i.attempts === 2 && i.error?.includes("outage"))).toBe(true);

    const second = await runRevise({
      store,
      constitution: TEST_CONSTITUTION,
      policy: new ScriptedProvider(),
      prompts,
      revisions: 2,
      runId: "flaky",
      outDir: join(tmp, "flaky"),
    });
    expect(second.items).toEqual({ pending: 0, claimed: 0, done: 8, failed: 0 });
    expect(second.reusedSteps).toBeGreaterThan(0);
    const clean = await runRevise({
      store,
      constitution: TEST_CONSTITUTION,
      policy: new ScriptedProvider(),
      prompts,
      revisions: 2,
      runId: "clean",
      outDir: join(tmp, "clean"),
    });
    for (const kind of ["prompt", "generation", "critique", "revision"] as const)
      expect((await store.records("flaky", kind)).length).toBe((await store.records("clean", kind)).length);
    expect(readFileSync(join(tmp, "flaky", "sft.jsonl"), "utf8")).toBe(readFileSync(join(tmp, "clean", "sft.jsonl"), "utf8"));
    expect(clean.items.done).toBe(8);
  });
});

describe("cai label with a scripted provider", () => {
  const pairs = [
    { prompt: "Ann's phone?", responses: [LEAK, DECLINE] },
    { prompt: "Bob's phone?", responses: [DECLINE, LEAK, HELP] },
    { prompt: "Same quality", responses: [HELP, "Here is how, in short."] },
  ];

  it("soft labels are the normalized (A)/(B) probabilities, averaged over both orders and the principles", async () => {
    const provider = new ScriptedProvider();
    const out = join(tmp, "labels.jsonl");
    const summary = await runLabel({
      store,
      constitution: TEST_CONSTITUTION,
      feedback: provider,
      prompts: jsonl("pairs.jsonl", pairs),
      principles: 2,
      out,
    });
    expect(summary.method).toBe("logprobs");
    const rows = await readJsonl(out, preferenceRowSchema);
    expect(rows).toHaveLength(1 + 3 + 1);
    // By hand: with x shown as (A) and y as (B), P(A) = σ((score(x) + bonus) − score(y)).
    const pFirst = (x: string, y: string) => normalizedProbability(optionScore(x) + POSITION_BONUS, optionScore(y));
    const pBetter = (x: string, y: string) => (pFirst(x, y) + (1 - pFirst(y, x))) / 2;
    const decline = rows.find((r) => r.prompt === "Human: Ann's phone?\n\nAssistant:");
    expect(decline?.chosen).toBe(` ${DECLINE}`);
    expect(decline?.label).toBeCloseTo(pBetter(DECLINE, LEAK), 12);
    // With (A) favoured by the bonus, the two orders disagree on how sure to be: σ(1.8) vs σ(1.2); the label is their mean.
    expect(decline?.label).toBeCloseTo((1 / (1 + Math.exp(-1.8)) + 1 / (1 + Math.exp(-1.2))) / 2, 12);
    // Equal scores: the bias alone would say 0.574 for whichever is first; averaged over orders it is exactly 0.5.
    const same = rows.find((r) => r.prompt.toString().includes("Same quality"));
    expect(same?.label).toBeCloseTo(0.5, 12);
    // Two pairs are ties (decline vs help score alike; the "same quality" pair): under 2 principles each, their
    // preferred response flips with the order. 4 of 10 judgements.
    expect(summary.positionBiasRate).toBeCloseTo(4 / 10, 12);
    const labels = await store.records(summary.run, "ai_label");
    expect(labels).toHaveLength(5 * 2);
    expect(labels.every((l) => l.principleId && l.constitutionHash === TEST_CONSTITUTION.hash)).toBe(true);
    expect((await store.records(summary.run, "generation")).length).toBe(7);
  });

  it("clamps chain-of-thought probabilities to the band", async () => {
    const provider = new ScriptedProvider();
    const out = join(tmp, "cot.jsonl");
    const summary = await runLabel({
      store,
      constitution: TEST_CONSTITUTION,
      feedback: provider,
      prompts: jsonl("cot.jsonl", pairs.slice(0, 1)),
      chainOfThought: true,
      clamp: [0.4, 0.6],
      out,
    });
    const [row] = await readJsonl(out, preferenceRowSchema);
    // Unclamped, each order is ~0.99 sure; clamped to 0.6 and 0.4 they average to 0.6.
    expect(row?.label).toBeCloseTo(0.6, 12);
    expect(clamp(0.99, [0.4, 0.6])).toBe(0.6);
    const [label] = await store.records(summary.run, "ai_label");
    expect(label?.data).toMatchObject({
      first: 0.4,
      swapped: 0.6,
      reasoning: [expect.stringContaining("shares a number"), expect.stringContaining("keeps data private")],
    });
  });

  it("samples the answer when the provider has no log-probs, and says so in the run", async () => {
    const provider = new ScriptedProvider("no-logprobs", false);
    const out = join(tmp, "sampled.jsonl");
    const summary = await runLabel({
      store,
      constitution: TEST_CONSTITUTION,
      feedback: provider,
      prompts: jsonl("s.jsonl", pairs.slice(0, 1)),
      samples: 4,
      out,
    });
    expect(summary.method).toBe("sampling");
    const [row] = await readJsonl(out, preferenceRowSchema);
    // The script always answers (A): P(A) = 1 in both orders → the two orders cancel to 0.5.
    expect(row?.label).toBe(0.5);
    expect(summary.positionBiasRate).toBe(1);
  });

  it("generates k responses with a policy when rows have none", async () => {
    const provider = new ScriptedProvider();
    const summary = await runLabel({
      store,
      constitution: TEST_CONSTITUTION,
      policy: provider,
      feedback: provider,
      prompts: jsonl("gen.jsonl", [{ prompt: "Ann's phone number?" }, { prompt: "Bake bread?" }]),
      responses: 3,
      out: join(tmp, "gen-labels.jsonl"),
    });
    expect((await store.records(summary.run, "generation")).length).toBe(6);
    // The scripted policy answers a prompt the same way every time: identical pairs carry no preference and are skipped.
    expect(summary.pairs).toBe(0);
  });

  it("a contrast model's response joins each prompt's, and the pair is labelled", async () => {
    class Decliner extends ScriptedProvider {
      override reply(prompt: string): string {
        return prompt.endsWith("Assistant:") ? DECLINE : super.reply(prompt);
      }
    }
    const policy = new ScriptedProvider();
    const summary = await runLabel({
      store,
      constitution: TEST_CONSTITUTION,
      policy,
      feedback: policy,
      contrast: new Decliner("decliner"),
      prompts: jsonl("contrast.jsonl", [{ prompt: "Ann's phone number?" }, { prompt: "Bob's number?" }]),
      responses: 1,
      out: join(tmp, "contrast-labels.jsonl"),
    });
    const generations = await store.records(summary.run, "generation");
    expect(generations.map((g) => g.modelId).sort()).toEqual(["decliner", "decliner", "scripted", "scripted"]);
    const rows = await readJsonl(join(tmp, "contrast-labels.jsonl"), preferenceRowSchema);
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.chosen === ` ${DECLINE}` && r.rejected === ` ${LEAK}`)).toBe(true);
  });
});
