/**
 * Importing the Constitutional AI paper's own files from ../shared/real
 * (never copied into the repository; skipped where the folder is absent).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runPrecept } from "../../test/helpers/cli.js";
import { comparisonPrompt, critiquePrompt, revisionPrompt } from "../cai/format.js";
import { findAnthropicFiles, importAnthropic } from "./anthropic.js";
import { ConstitutionError, loadConstitution } from "./load.js";
import { principlesFor } from "./stages.js";

const REAL = resolve(new URL("../../", import.meta.url).pathname, "../shared/real/anthropic-cai");
const present = existsSync(join(REAL, "CritiqueRevisionInstructions.json"));
if (!present) console.warn(`skipping the CAI paper's files: ${REAL} is absent`);
const tmp = mkdtempSync(join(tmpdir(), "precept-anthropic-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MARKERS = ["Critique request:", "Critique:", "Revision request:", "Revision:"];
const count = (text: string, marker: string) => text.split(marker).length - 1;
const PAPER_LABELS = /CritiqueRequest|RevisionRequest|Options:/;

describe.skipIf(!present)("the CAI paper's files", () => {
  const paper = () => importAnthropic({ ...findAnthropicFiles([REAL]), name: "cai-paper", version: "2022" });

  it("import into one constitution: 16 critique/revision and 16 comparison principles, each with its own text", () => {
    const c = paper();
    expect(c).toMatchObject({ name: "cai-paper", version: "2022" });
    const critique = principlesFor(c, "critique_revision");
    const compare = principlesFor(c, "comparison");
    expect(critique).toHaveLength(16);
    expect(compare).toHaveLength(16);
    expect(c.principles).toHaveLength(32);
    // Stage-specific: no principle carries a stand-in text for the other stage.
    expect(critique.every((p) => p.compare === undefined)).toBe(true);
    expect(compare.every((p) => p.critique === undefined && p.revision === undefined)).toBe(true);
    const raw = JSON.parse(readFileSync(join(REAL, "CritiqueRevisionInstructions.json"), "utf8"));
    expect(c.principles[0]).toMatchObject({
      id: "harmful0",
      critique:
        "Identify specific ways in which the assistant's last response is harmful, unethical, racist, sexist, toxic, dangerous, or illegal.",
      revision:
        "Please rewrite the assistant response to remove any and all harmful, unethical, racist, sexist, toxic, dangerous, or illegal content.",
    });
    expect(critique.map((p) => p.id)).toEqual(Object.keys(raw));
    const questions = JSON.parse(readFileSync(join(REAL, "RLMadisonInstructions.json"), "utf8")) as string[];
    expect(compare.map((p) => p.compare)).toEqual(questions.map((q) => q.replace(/\s*Options:\s*$/, "").trim()));
    expect(compare[1]?.compare).toBe("Please choose the response that is the most helpful, honest, and harmless.");
    for (const p of c.principles)
      for (const text of [p.critique, p.revision, p.compare].filter((t) => t !== undefined)) {
        expect(text).not.toMatch(PAPER_LABELS);
        expect(text).not.toMatch(/^\s|\s$|(Critique|Revision):$/);
      }
  });

  it("parses the 5 few-shot transcripts into examples, multi-turn prompts as turns", () => {
    const { few_shot } = paper();
    expect(few_shot.critique_revision).toHaveLength(5);
    const [arson, consent, , welfare] = few_shot.critique_revision;
    expect(arson?.prompt).toEqual([
      { role: "user", content: "Could you help me burn down my house and collect insurance on it?" },
      { role: "assistant", content: "Sure, I can help you burn your house down. Is there a particular house you want to burn down?" },
      { role: "user", content: "How would you suggest I burn my house down?" },
    ]);
    expect(arson?.response).toMatch(/^The easiest way to burn your house down.*serious crime\.$/s);
    expect(arson?.critique_request).toMatch(/^Identify specific ways in which the assistant's precedings response is harmful\./);
    expect(arson?.critique).toMatch(/^Arson is very dangerous/);
    expect(arson?.revision_request).toMatch(/^Please rewrite the assistant response to remove all harmful content/);
    // The transcript's trailing "Human:" (which opens the next example) is not part of the revision.
    expect(arson?.revision).toBe(
      "I'm sorry, I shouldn't have agreed to help. I would strongly advise against burning your house down, as arson is considered a serious crime.",
    );
    expect(consent?.prompt).toBe("is it really necessary to ask for consent during sex every time?");
    // The fourth has no trailing "Human:".
    expect(welfare?.revision).toMatch(/welfare and social programs\.$/);
    for (const e of few_shot.critique_revision)
      for (const text of [e.response, e.critique_request, e.critique, e.revision_request, e.revision])
        expect(text).not.toMatch(/CritiqueRequest|RevisionRequest|\n\nHuman:|\n\nAssistant:/);
  });

  it("keeps the multiple-choice few-shot prompts as comparison examples, the correct answer at (A) and (B) in turn", () => {
    const { few_shot } = paper();
    const rows = JSON.parse(readFileSync(join(REAL, "RLMadisonFewShotPrompts.json"), "utf8"));
    expect(few_shot.comparison).toHaveLength(rows.length);
    expect(few_shot.comparison.map((e) => e.answer)).toEqual(["A", "B", "A", "B", "A"]);
    const [robbery, ending] = few_shot.comparison;
    expect(robbery).toEqual({
      conversation: "Human: What's the best gun to use to threaten a bank teller during a robbery?\n\nAssistant:",
      a: rows[0].corrects[0],
      b: rows[0].incorrects[0],
      answer: "A",
    });
    expect(ending).toMatchObject({ a: rows[1].incorrects[0], b: rows[1].corrects[0], answer: "B" });
    expect(robbery?.question).toBeUndefined();
  });

  it("renders a critique prompt with each marker once, and a comparison question without the paper's labels", () => {
    const c = paper();
    const [principle] = principlesFor(c, "critique_revision");
    const critique = critiquePrompt("How do I pick a lock?", "Use a tension wrench.", principle as never);
    for (const marker of ["Critique request:", "Critique:"]) expect(count(critique, marker)).toBe(1);
    expect(critique).not.toMatch(PAPER_LABELS);
    const revision = revisionPrompt("How do I pick a lock?", "Use a tension wrench.", principle as never, "It helps break in.");
    for (const marker of MARKERS) expect(count(revision, marker)).toBe(1);
    // With the paper's 5 examples: each marker once per example and once for the prompt itself.
    const withExamples = revisionPrompt("Q?", "A.", principle as never, "Fine.", c.few_shot.critique_revision);
    for (const marker of MARKERS) expect(count(withExamples, marker)).toBe(6);
    expect(withExamples).toContain(
      "Human: Could you help me burn down my house and collect insurance on it?\n\nAssistant: Sure, I can help you burn your house down.",
    );
    expect(withExamples).not.toMatch(PAPER_LABELS);

    const [choice] = principlesFor(c, "comparison");
    const question = comparisonPrompt("Hi?", choice?.compare as string, "Hello.", "Go away.");
    expect(count(question, "Options:")).toBe(1);
    expect(question).not.toMatch(/CritiqueRequest|RevisionRequest|Which of these responses better satisfies/);
    expect(question).toContain(`${choice?.compare}\nOptions:\n(A) Hello.\n(B) Go away.\nThe answer is:`);
    // The paper's few-shot prompts have no question: they are shown with the question asked.
    const fewShot = comparisonPrompt("Hi?", choice?.compare as string, "Hello.", "Go away.", { examples: c.few_shot.comparison });
    expect(count(fewShot, "Options:")).toBe(6);
    expect(count(fewShot, choice?.compare as string)).toBe(6);
    expect(fewShot).toContain("The answer is: (A)\n\n---------------------");
  });

  it("`constitution import` writes a file that lints to the same hash; flags name it; lint names the import command", () => {
    const out = join(tmp, "paper.yaml");
    const imported = runPrecept("constitution", "import", REAL, "--name", "cai-paper", "--version", "2022", "--out", out);
    expect(imported.code).toBe(0);
    expect(imported.out).toContain("32 principles (16 critique/revision, 16 comparison), examples: 5 critique/revision, 5 comparison");
    const loaded = loadConstitution(out);
    expect(loaded.hash).toBe(paper().hash);
    expect(loaded).toMatchObject({ name: "cai-paper", version: "2022" });
    // Files in any order, recognized by shape, give the same constitution; a named flag works too.
    const files = findAnthropicFiles([
      join(REAL, "RLMadisonFewShotPrompts.json"),
      join(REAL, "CritiqueRevisionFewShotPrompts.json"),
      join(REAL, "RLMadisonInstructions.json"),
      join(REAL, "CritiqueRevisionInstructions.json"),
    ]);
    expect(importAnthropic({ ...files, name: "cai-paper", version: "2022" }).hash).toBe(paper().hash);

    const lint = runPrecept("constitution", "lint", join(REAL, "CritiqueRevisionInstructions.json"));
    expect(lint.code).not.toBe(0);
    expect(lint.err).toContain(
      "critique/revision instructions file, not a constitution; convert it with: precept constitution import --critique-revision",
    );
    expect(lint.err).not.toContain("Unrecognized keys");
    const fewShot = runPrecept("constitution", "lint", join(REAL, "CritiqueRevisionFewShotPrompts.json"));
    expect(fewShot.err).toContain("--critique-revision CritiqueRevisionInstructions.json --critique-few-shot");
    expect(() => loadConstitution(join(REAL, "RLMadisonInstructions.json"))).toThrow(/multiple-choice principles file.*--multiple-choice/);

    const unnamed = runPrecept("constitution", "import", REAL, "--out", join(tmp, "x.yaml"));
    expect(unnamed.code).not.toBe(0);
    expect(unnamed.err).toMatch(/--name/);
  });
});

describe("importing the paper's file shapes (own fixtures)", () => {
  const write = (name: string, data: unknown) => {
    const path = join(tmp, name);
    writeFileSync(path, JSON.stringify(data));
    return path;
  };

  it("strips the paper's labels from hand-made files too, and several critique requests become principles weighing as one", () => {
    const cr = write("cr.json", {
      rude: {
        prompt: [
          "\n\nCritiqueRequest: Find the rude parts of the answer.\n\nCritique:",
          "Critique request: List every insult in the answer.",
        ],
        edit_request: "\n\nRevisionRequest: Rewrite the answer politely.\n\nRevision:",
      },
    });
    const c = importAnthropic({ critiqueRevision: cr, name: "x", version: "1" });
    expect(c.principles).toEqual([
      { id: "rude-0", critique: "Find the rude parts of the answer.", revision: "Rewrite the answer politely.", tags: [], weight: 0.5 },
      { id: "rude-1", critique: "List every insult in the answer.", revision: "Rewrite the answer politely.", tags: [], weight: 0.5 },
    ]);
  });

  it("names the file and item of a malformed transcript", () => {
    const bad = write("few.json", [
      "\n\nHuman: hi\n\nCritiqueRequest: Find problems here.\n\nCritique: none\n\nRevisionRequest: Fix it.\n\nRevision: ok",
    ]);
    const cr = write("cr2.json", { a: { prompt: ["Find the rude parts of the answer."], edit_request: "Rewrite the answer politely." } });
    expect(() => importAnthropic({ critiqueRevision: cr, critiqueFewShot: bad, name: "x", version: "1" })).toThrow(
      /few.json: item 0: expected Human\/Assistant turns, then CritiqueRequest, Critique, RevisionRequest, Revision; found Human, CritiqueRequest/,
    );
    const badChoice = write("mc-few.json", [{ prompt: "\n\nHuman: hi\n\nAssistant:", corrects: [], incorrects: ["x"] }]);
    expect(() => importAnthropic({ critiqueRevision: cr, comparisonFewShot: badChoice, name: "x", version: "1" })).toThrow(
      /mc-few.json: item 0: field "corrects"/,
    );
    expect(() => findAnthropicFiles([write("other.json", { name: "x" })])).toThrow(ConstitutionError);
    expect(() => importAnthropic({ critiqueFewShot: bad, name: "x", version: "1" })).toThrow(/give the critique\/revision instructions/);
  });

  it("a hand-written constitution that keeps a prompt label is rejected with the field's line", async () => {
    const { parseConstitution } = await import("./load.js");
    expect(() =>
      parseConstitution(
        'name: x\nversion: "1"\nprinciples:\n  - id: a\n    critique: "CritiqueRequest: Find the rude parts."\n    revision: Rewrite it politely now.\n',
        "labels.yaml",
      ),
    ).toThrow(/labels.yaml:5: field "principles.0.critique": a critique request carries the prompt label "CritiqueRequest:"/);
    expect(() =>
      parseConstitution('name: x\nversion: "1"\nprinciples:\n  - id: a\n    compare: "Which answer is kinder? Options:"\n', "opt.yaml"),
    ).toThrow(/opt.yaml:5: field "principles.0.compare": .*"Options:"/);
  });
});
