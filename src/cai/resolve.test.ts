/** Priorities and hard constraints in `cai label`: the resolution rule alone, then through the pipeline. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { DECLINE, HELP, LEAK, options, ScriptedProvider } from "../../test/helpers/scripted-provider.js";
import { parseConstitution } from "../constitution/load.js";
import { preferenceRowSchema, readJsonl } from "../data/dataset.js";
import { openStore, type Store } from "../store/store.js";
import { normalizedProbability } from "./label.js";
import { runLabel, runRevise } from "./pipeline.js";
import { resolveVerdicts } from "./resolve.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-resolve-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("resolving several principles' verdicts", () => {
  it("without priorities or hard constraints it is the plain mean", () => {
    expect(
      resolveVerdicts(
        [
          { principle: "a", p: 0.9 },
          { principle: "b", p: 0.2 },
        ],
        0.75,
      ),
    ).toEqual({
      p: 0.55,
      by: "mean",
      principles: ["a", "b"],
    });
  });

  it("a confident hard constraint decides; an unsure one is one verdict among the others", () => {
    const verdicts = [
      { principle: "safe", p: 0.2, hard: true },
      { principle: "helpful", p: 0.95 },
      { principle: "kind", p: 0.9 },
    ];
    expect(resolveVerdicts(verdicts, 0.75)).toEqual({ p: 0.2, by: "hard", principles: ["safe"] });
    // Not sure enough (0.8 < 0.85): averaged with the others, which outvote it.
    expect(resolveVerdicts(verdicts, 0.85)).toMatchObject({ by: "mean", principles: ["safe", "helpful", "kind"] });
    expect(resolveVerdicts(verdicts, 0.85).p).toBeCloseTo((0.2 + 0.95 + 0.9) / 3, 12);
    // Confidence is judged before chain-of-thought clamping.
    expect(
      resolveVerdicts(
        [
          { principle: "safe", p: 0.4, raw: 0.02, hard: true },
          { principle: "h", p: 0.6 },
        ],
        0.75,
      ),
    ).toEqual({
      p: 0.4,
      by: "hard",
      principles: ["safe"],
    });
    // Two confident hard constraints that disagree: the higher tier's.
    expect(
      resolveVerdicts(
        [
          { principle: "ethics", p: 0.9, hard: true, priority: 2 },
          { principle: "safety", p: 0.1, hard: true, priority: 1 },
        ],
        0.75,
      ),
    ).toEqual({ p: 0.1, by: "hard", principles: ["safety"] });
  });

  it("tiers in conflict: the highest confident tier decides, else the highest with a preference; tier 1 is the highest", () => {
    const verdicts = [
      { principle: "help", p: 0.9, priority: 4 },
      { principle: "safety", p: 0.2, priority: 1 },
      { principle: "ethics", p: 0.3, priority: 2 },
      { principle: "untiered", p: 0.95 },
    ];
    expect(resolveVerdicts(verdicts, 0.75)).toEqual({ p: 0.2, by: "tier", principles: ["safety"] });
    // Safety unsure: ethics (0.7 sure) is not either at 0.75, help is: the highest confident tier.
    const unsure = verdicts.map((v) => (v.principle === "safety" ? { ...v, p: 0.45 } : v));
    expect(resolveVerdicts(unsure, 0.75)).toEqual({ p: 0.9, by: "tier", principles: ["help"] });
    // Nobody confident: the highest tier with any preference.
    const mild = [
      { principle: "safety", p: 0.45, priority: 1 },
      { principle: "help", p: 0.6, priority: 4 },
    ];
    expect(resolveVerdicts(mild, 0.75)).toEqual({ p: 0.45, by: "tier", principles: ["safety"] });
    // Tiers that agree are averaged.
    expect(
      resolveVerdicts(
        [
          { principle: "s", p: 0.8, priority: 1 },
          { principle: "h", p: 0.6, priority: 4 },
        ],
        0.75,
      ),
    ).toMatchObject({
      by: "mean",
    });
  });
});

/**
 * A feedback model that judges by the question asked: the privacy question
 * prefers the response without a phone number (log-prob gap 3), the
 * "what was asked" question prefers the one with it (gap 4, outweighing
 * privacy in a plain mean). No position bias, so labels are easy to check.
 */
class QuestionJudge extends ScriptedProvider {
  override async logprobs(prompt: string, completions: string[]): Promise<number[]> {
    if (!prompt.includes("Options:\n(A)")) return completions.map(() => -1);
    const { a, b } = options(prompt);
    const asked = prompt.slice(prompt.lastIndexOf("Consider the following conversation"));
    const score = (text: string) =>
      asked.includes("private data private") ? (text.includes("555") ? -3 : 0) : text.includes("555") ? 0 : -4;
    return completions.map((c) => score(c.includes("A") ? a : b));
  }
}

const constitution = (privacy: string, extra = "", asked = "") =>
  parseConstitution(
    `name: tiers
version: "1"
principles:
  - id: privacy
    compare: Which response keeps private data private?
${privacy}  - id: asked
    compare: Which response gives the user what they asked for?
${asked}  - id: rewrite-only
    critique: Does the response leak private data?
    revision: Rewrite it without private data.
${extra}`,
    "tiers.yaml",
  );

let store: Store;
let dbCount = 0;
beforeEach(async () => {
  store = await openStore(join(tmp, `db${dbCount++}.sqlite`));
  return () => store.close();
});

describe("cai label with priorities and hard constraints", () => {
  const prompts = join(tmp, "pairs.jsonl");
  writeFileSync(prompts, `${JSON.stringify({ prompt: "Ann's phone?", responses: [LEAK, DECLINE] })}\n`);
  const label = async (c: ReturnType<typeof constitution>, name: string, principles = 1) => {
    const out = join(tmp, `${name}.jsonl`);
    const summary = await runLabel({ store, constitution: c, feedback: new QuestionJudge(), prompts, principles, out });
    const [row] = await readJsonl(out, preferenceRowSchema);
    return { row, labels: await store.records(summary.run, "ai_label"), comparisons: await store.records(summary.run, "comparison") };
  };
  const sure = normalizedProbability(3, 0); // privacy: P(decline better)
  const outvoting = normalizedProbability(4, 0); // asked: P(leak better)

  it("without ranks the plain mean lets helpfulness outvote privacy", async () => {
    const { labels } = await label(constitution(""), "plain");
    // One sampled principle per pair, from the two comparison principles only (never the rewrite-only one).
    expect(labels).toHaveLength(1);
    expect(["privacy", "asked"]).toContain(labels[0]?.principleId);
    const both = await label(constitution(""), "plain12", 12);
    expect(new Set(both.labels.map((l) => l.principleId))).toEqual(new Set(["privacy", "asked"]));
    expect(both.row?.chosen).toBe(` ${LEAK}`);
  });

  it("a hard constraint is judged on every pair and its confident verdict decides the label", async () => {
    const { row, labels, comparisons } = await label(constitution("    hard: true\n"), "hard");
    // The sampled principle (only "asked" is left to sample) plus the hard constraint.
    expect(labels.map((l) => [l.key.split("/").slice(-2).join("/"), l.principleId]).sort()).toEqual([
      ["0-1/0", "asked"],
      ["hard/privacy", "privacy"],
    ]);
    expect(row?.chosen).toBe(` ${DECLINE}`);
    expect(row?.label).toBeCloseTo(sure, 12);
    expect(comparisons[0]?.data).toMatchObject({ decided_by: { rule: "hard", principles: ["privacy"] } });
    // Above its confidence (0.953 < 0.99) it is one verdict among the others: helpfulness wins the mean.
    const unsure = await label(constitution("    hard: true\n", "sampling:\n  confidence_threshold: 0.99\n"), "unsure");
    expect(unsure.row?.chosen).toBe(` ${LEAK}`);
    expect(unsure.row?.label).toBeCloseTo((outvoting + (1 - sure)) / 2, 12);
  });

  it("in a conflict the higher tier decides", async () => {
    const { row, comparisons } = await label(constitution("    priority: 1\n", "", "    priority: 4\n"), "tiers", 12);
    expect(row?.chosen).toBe(` ${DECLINE}`);
    expect(row?.label).toBeCloseTo(sure, 12);
    expect(comparisons[0]?.data).toMatchObject({ decided_by: { rule: "tier", principles: ["privacy"] } });
    // Swap the tiers and helpfulness wins; a principle without a priority ranks below every tier.
    const swapped = await label(constitution("    priority: 4\n", "", "    priority: 1\n"), "swapped", 12);
    expect(swapped.row?.chosen).toBe(` ${LEAK}`);
    expect(swapped.row?.label).toBeCloseTo(outvoting, 12);
    const untiered = await label(constitution("", "", "    priority: 3\n"), "untiered", 12);
    expect(untiered.row?.chosen).toBe(` ${LEAK}`);
  });
});

describe("cai revise with stage-specific principles", () => {
  it("critiques only with critique/revision principles", async () => {
    const summary = await runRevise({
      store,
      constitution: constitution("    hard: true\n"),
      policy: new ScriptedProvider(),
      prompts: (() => {
        const path = join(tmp, "red.jsonl");
        writeFileSync(path, ["Ann's phone?", "Bob's number?", HELP].map((prompt) => JSON.stringify({ prompt })).join("\n"));
        return path;
      })(),
      revisions: 3,
      outDir: join(tmp, "revise"),
    });
    const critiques = await store.records(summary.run, "critique");
    expect(critiques).toHaveLength(9);
    expect(new Set(critiques.map((c) => c.principleId))).toEqual(new Set(["rewrite-only"]));
  });
});
