/** The recipe's revise:/label: sections are the pipelines' config schemas under snake_case names, the trainer sections the trainers' options: every setting is accepted, unknown keys (with the closest known one) and bad values are refused naming them. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromYamlSection, labelConfigSchema, reviseConfigSchema, yamlName } from "../cai/configs.js";
import { loadRecipe } from "./recipe.js";

const dir = mkdtempSync(join(tmpdir(), "precept-sections-"));
function recipeFile(sections: string): string {
  const path = join(dir, `recipe-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, `constitution: c.yaml\nbase_model: base\nprompts: p.jsonl\nout: out\n${sections}`);
  return path;
}

describe("recipe revise/label sections", () => {
  it("accept every pipeline setting but seed and mode under its YAML name, and give them back under the library's names", () => {
    const r = loadRecipe(
      recipeFile(
        "revise:\n  max_tokens: 6\n  skip: false\n  few_shot: 0\n  helpful_ratio: 0.5\n  max_attempts: 2\n  lease: 30\n" +
          "label:\n  cot: true\n  clamp: [0.3, 0.7]\n  reasoning_tokens: 12\n  contrast_model: local:base\n",
      ),
    );
    // Only what the recipe wrote: the section is hashed as the stage's settings.
    expect(r.revise).toEqual({ max_tokens: 6, skip: false, few_shot: 0, helpful_ratio: 0.5, max_attempts: 2, lease: 30 });
    expect(fromYamlSection(reviseConfigSchema, r.revise)).toEqual({
      maxTokens: 6,
      skipNoProblem: false,
      fewShot: 0,
      helpfulRatio: 0.5,
      maxAttempts: 2,
      lease: 30,
    });
    expect(fromYamlSection(labelConfigSchema, r.label)).toEqual({ chainOfThought: true, clamp: [0.3, 0.7], reasoningTokens: 12 });
    expect(r.label.contrast_model).toBe("local:base");
    for (const key of Object.keys(reviseConfigSchema.shape).filter((k) => k !== "seed" && k !== "mode"))
      expect(() => loadRecipe(recipeFile(`revise:\n  ${yamlName(key)}: null\n`)), key).toThrow(new RegExp(`revise\\.${yamlName(key)}`));
  });

  it("refuse unknown keys and bad values, naming the file and the field", () => {
    const typo = recipeFile("revise:\n  max_tokenz: 6\n");
    expect(() => loadRecipe(typo)).toThrow(new RegExp(`${typo}: .*revise.*Unrecognized key: "max_tokenz"`));
    expect(() => loadRecipe(recipeFile("revise:\n  seed: 3\n"))).toThrow(/Unrecognized key: "seed"/);
    expect(() => loadRecipe(recipeFile("label:\n  clamp: [0.7, 0.3]\n"))).toThrow(/label\.clamp.*0 <= LOW < HIGH <= 1/);
    expect(() => loadRecipe(recipeFile("label:\n  concurrency: 0\n"))).toThrow(/label\.concurrency/);
  });

  it("suggest the closest known key for an unknown one, in revise:, label:, the trainer sections and at the top", () => {
    const refused = (sections: string) => {
      try {
        loadRecipe(recipeFile(sections));
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error(`accepted: ${sections}`);
    };
    expect(refused("revise:\n  max_tokenz: 6\n")).toMatch(
      /field "revise": Unrecognized key: "max_tokenz" \(did you mean `max_tokens`\?\)$/,
    );
    expect(refused("label:\n  contrast_modl: local:base\n")).toMatch(
      /field "label": .*"contrast_modl" \(did you mean `contrast_model`\?\)/,
    );
    expect(refused("labels:\n  cot: true\n")).toMatch(/field "\(root\)": Unrecognized key: "labels" \(did you mean `label`\?\)/);
    // Several unknown keys: each that is near a known one gets its suggestion.
    expect(refused("revise:\n  temprature: 1\n  zzzzzz: 1\n")).toMatch(
      /Unrecognized keys: "temprature", "zzzzzz" \("temprature": did you mean `temperature`\?\)$/,
    );
    // Nothing close: the key is named, nothing is suggested.
    expect(refused("revise:\n  seed: 3\n")).toMatch(/Unrecognized key: "seed"$/);
    // The trainer sections were checked only by the trainer's schema when the stage ran, which dropped an unknown key.
    for (const [section, typo, meant] of [
      ["sft", "learnin_rate", "learning_rate"],
      ["reward", "max_lenght", "max_length"],
      ["ppo", "kl_coeff", "kl_coef"],
      ["dpo", "bta", "beta"],
    ] as const)
      expect(refused(`${section}:\n  ${typo}: 1\n`)).toMatch(
        new RegExp(`field "${section}": Unrecognized key: "${typo}" \\(did you mean \`${meant}\`\\?\\)$`),
      );
    // Every option of a trainer is still accepted, and kept as written (the section is hashed as the stage's settings).
    const r = loadRecipe(recipeFile("sft:\n  learning_rate: 0.1\n  max_length: 64\nppo:\n  kl_coef: 0.1\n"));
    expect(r.sft).toEqual({ learning_rate: 0.1, max_length: 64 });
    expect(r.ppo).toEqual({ kl_coef: 0.1 });
    expect(r.dpo).toEqual({});
  });
});
