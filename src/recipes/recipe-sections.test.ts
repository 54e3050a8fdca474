/** The recipe's revise:/label: sections are the pipelines' config schemas under snake_case names: every setting is accepted, unknown keys and bad values are refused naming them. */
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
});
