import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../store/store.js";
import { importAnthropic } from "./anthropic.js";
import { diffConstitutions, withAffectedRecords } from "./diff.js";
import { ConstitutionError, canonicalJson, loadConstitution, parseConstitution } from "./load.js";

const SHIPPED = new URL("../../constitutions/", import.meta.url).pathname;
const FIXTURES = new URL("../../test/fixtures/constitutions/", import.meta.url).pathname;
const PINNED_HASH = "86dac1ba9bab6d64";
const tmp = mkdtempSync(join(tmpdir(), "precept-constitution-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("constitutions", () => {
  it("the shipped constitutions are valid, distinct and cover their domains", () => {
    const loaded = readdirSync(SHIPPED).map((f) => loadConstitution(join(SHIPPED, f)));
    expect(loaded.map((c) => c.name).sort()).toEqual([
      "content-moderation",
      "corporate-policy",
      "general-harmlessness",
      "medical-information-safety",
      "sandbox",
    ]);
    expect(new Set(loaded.map((c) => c.hash)).size).toBe(5);
    const medical = loaded.find((c) => c.name === "medical-information-safety");
    expect(medical?.principles.map((p) => p.id)).toEqual(["disclaimer", "no-diagnosis", "urge-care", "still-informative"]);
    expect(loaded.find((c) => c.name === "corporate-policy")?.principles[0]?.id).toBe("no-customer-pii");
    expect(loaded.find((c) => c.name === "content-moderation")?.principles.some((p) => p.id === "no-over-blocking")).toBe(true);
  });

  it("is identified by the hash of its content, not its formatting or key order", () => {
    const yaml =
      'name: x\nversion: "1"\nprinciples:\n  - id: a\n    critique: Find the rude parts here.\n    revision: Rewrite it to be polite.\n    compare: Which one is more polite?\n';
    const json = JSON.stringify(
      {
        version: "1",
        principles: [
          { compare: "Which one is more polite?", revision: "Rewrite it to be polite.", critique: "Find the rude parts here.", id: "a" },
        ],
        name: "x",
      },
      null,
      4,
    );
    expect(parseConstitution(yaml, "a.yaml").hash).toBe(parseConstitution(json, "a.json").hash);
    expect(parseConstitution(yaml.replace("polite?", "kind?"), "b.yaml").hash).not.toBe(parseConstitution(yaml, "a.yaml").hash);
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
  });

  it("names the file, line and field of each error", () => {
    const file = join(FIXTURES, "bad-field.yaml");
    let message = "";
    try {
      loadConstitution(file);
    } catch (error) {
      expect(error).toBeInstanceOf(ConstitutionError);
      message = (error as Error).message;
    }
    expect(message).toContain(`${file}:8: field "principles.1.id": use lowercase letters, digits, _ . -`);
    expect(message).toContain(`${file}:10: field "principles.1.revision": a revision request needs a full sentence`);
    expect(message).toContain(`${file}:12: field "principles.1.weight"`);
    expect(() => loadConstitution(join(FIXTURES, "bad-yaml.yaml"))).toThrow(/bad-yaml.yaml:\d+: /);
    expect(() => parseConstitution('name: x\nversion: "1"\nprinciples: []\n', "empty.yaml")).toThrow(
      /empty.yaml:3: field "principles": a constitution needs at least one principle/,
    );
    const duplicate =
      'name: x\nversion: "1"\nprinciples:\n  - {id: a, critique: Find the rude parts., revision: Make it polite now., compare: Which is more polite?}\n  - {id: a, critique: Find the rude parts., revision: Make it polite now., compare: Which is more polite?}\n';
    expect(() => parseConstitution(duplicate, "dup.yaml")).toThrow(/dup.yaml:5: field "principles.1.id": duplicate principle id "a"/);
    expect(() => parseConstitution('name: x\nversion: "1"\nprinciple: []\n', "typo.yaml")).toThrow(/typo.yaml/);
  });

  it("imports Anthropic's critique/revision and multiple-choice JSON shapes as separate, stage-specific principles", () => {
    const c = importAnthropic({
      critiqueRevision: join(FIXTURES, "anthropic-critique-revision.json"),
      multipleChoice: join(FIXTURES, "anthropic-multiple-choice.json"),
      name: "paper",
      version: "1",
    });
    expect(c.principles).toEqual([
      {
        id: "rule0",
        critique: "Find the ways the last answer is rude to the user.",
        revision: "Rewrite the answer so it is polite to the user.",
        tags: [],
        weight: 1,
      },
      {
        id: "rule1",
        critique: "Find anything in the last answer that is not true.",
        revision: "Rewrite the answer so that it only says true things.",
        tags: [],
        weight: 1,
      },
      { id: "choice0", compare: "Which of these answers is more polite to the user?", tags: [], weight: 1 },
      { id: "choice1", compare: "Which of these answers is more truthful?", tags: [], weight: 1 },
    ]);
    expect(c.description).toBe(
      "Imported from the Constitutional AI paper's files: anthropic-critique-revision.json, anthropic-multiple-choice.json",
    );
    const onlyChoice = importAnthropic({ multipleChoice: join(FIXTURES, "anthropic-multiple-choice.json"), name: "choices", version: "2" });
    expect(onlyChoice.principles.map((p) => [p.id, p.critique])).toEqual([
      ["choice0", undefined],
      ["choice1", undefined],
    ]);
    writeFileSync(join(tmp, "bad.json"), JSON.stringify({ r: { prompt: [1] } }));
    expect(() => importAnthropic({ critiqueRevision: join(tmp, "bad.json"), name: "x", version: "1" })).toThrow(
      /bad.json: field "r.prompt": expected a critique request string/,
    );
  });

  it("new optional fields do not change the hash of a constitution written before them", () => {
    // Pinned before priorities, hard constraints and stage-specific principles existed: stored records refer to it.
    const old =
      'name: x\nversion: "1"\nprinciples:\n  - id: a\n    critique: Find the rude parts here.\n    revision: Rewrite it to be polite.\n    compare: Which one is more polite?\n';
    expect(parseConstitution(old, "old.yaml").hash).toBe(PINNED_HASH);
    const tiered = parseConstitution(old.replace("    compare:", "    priority: 1\n    hard: true\n    compare:"), "tiered.yaml");
    expect(tiered.hash).not.toBe(PINNED_HASH);
    expect(tiered.principles[0]).toMatchObject({ priority: 1, hard: true });
  });

  it("a principle has critique and revision requests, a compare question, or both; never half a pair", () => {
    const one = (fields: string) => `name: x\nversion: "1"\nprinciples:\n  - id: a\n${fields}`;
    expect(parseConstitution(one("    compare: Which one is more polite?\n"), "c.yaml").principles[0]?.critique).toBeUndefined();
    expect(() => parseConstitution(one("    critique: Find the rude parts here.\n"), "half.yaml")).toThrow(
      /half.yaml:4: field "principles.0.revision": a critique request needs its revision request/,
    );
    expect(() => parseConstitution(one("    tags: [x]\n"), "none.yaml")).toThrow(
      /none.yaml:4: field "principles.0": give critique and revision/,
    );
    expect(() => parseConstitution(one("    compare: Which one is more polite?\n    priority: 0\n"), "p.yaml")).toThrow(
      /p.yaml:6: field "principles.0.priority"/,
    );
  });

  it("diffs two versions and counts the stored records produced under changed principles", async () => {
    const v1 = loadConstitution(join(SHIPPED, "medical.yaml"));
    const edited = {
      ...v1,
      principles: [
        ...v1.principles.slice(1).map((p) => (p.id === "urge-care" ? { ...p, weight: 3 } : p)),
        { ...(v1.principles[0] as (typeof v1.principles)[number]), id: "new-one" },
      ],
    };
    const v2 = parseConstitution(JSON.stringify({ name: edited.name, version: "1.1", principles: edited.principles }), "v2.json");
    const diff = diffConstitutions(v1, v2);
    expect(diff).toMatchObject({
      added: ["new-one"],
      removed: ["disclaimer"],
      changed: { "urge-care": ["weight"] },
      unchanged: ["no-diagnosis", "still-informative"],
    });
    const store = await openStore(join(tmp, "diff.db"));
    await store.addRecords("run", [
      { kind: "critique", key: "1", data: {}, constitutionHash: v1.hash, principleId: "urge-care" },
      { kind: "critique", key: "2", data: {}, constitutionHash: v1.hash, principleId: "urge-care" },
      { kind: "revision", key: "3", data: {}, constitutionHash: v1.hash, principleId: "disclaimer" },
      { kind: "revision", key: "4", data: {}, constitutionHash: v1.hash, principleId: "no-diagnosis" },
    ]);
    expect((await withAffectedRecords(diff, store)).affectedRecords).toEqual({ "urge-care": 2, disclaimer: 1 });
    await store.close();
  });
});
