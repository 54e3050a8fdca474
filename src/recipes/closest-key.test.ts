import { describe, expect, it } from "vitest";
import { closestKey, editDistance } from "./closest-key.js";

describe("editDistance (Levenshtein)", () => {
  it("counts insertions, deletions and substitutions", () => {
    expect(editDistance("", "")).toBe(0);
    expect(editDistance("abc", "abc")).toBe(0);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("abc", "")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3); // k→s, e→i, +g
    expect(editDistance("flaw", "lawn")).toBe(2); // −f, +n
    expect(editDistance("max_tokenz", "max_tokens")).toBe(1);
    expect(editDistance("learnin_rate", "learning_rate")).toBe(1);
    expect(editDistance("ab", "ba")).toBe(2); // no transpositions: two substitutions
  });

  it("is symmetric", () => {
    for (const [a, b] of [
      ["revise", "revisions"],
      ["cot", "contrast_model"],
      ["beta", "bta"],
    ] as const)
      expect(editDistance(a, b)).toBe(editDistance(b, a));
  });
});

describe("closestKey", () => {
  const known = ["max_tokens", "temperature", "concurrency", "revisions", "few_shot"];
  it("finds the known key a typo was meant to be", () => {
    expect(closestKey("max_tokenz", known)).toBe("max_tokens");
    expect(closestKey("temprature", known)).toBe("temperature");
    expect(closestKey("fewshot", known)).toBe("few_shot");
    expect(closestKey("concurency", known)).toBe("concurrency");
  });

  it("suggests nothing for a key that is far from every known one, or when there are none", () => {
    expect(closestKey("seed", known)).toBeNull();
    expect(closestKey("output", known)).toBeNull();
    expect(closestKey("max_tokens", [])).toBeNull();
  });

  it("allows 2 edits on short keys and a third of the length on long ones", () => {
    expect(closestKey("bta", ["beta"])).toBe("beta");
    expect(closestKey("xyz", ["beta"])).toBeNull(); // 4 edits
    expect(closestKey("per_device_batch_size", ["per_device_train_batch_size"])).toBe("per_device_train_batch_size"); // 6 edits of 21
    expect(closestKey("device_size", ["per_device_train_batch_size"])).toBeNull(); // 16 edits of 11
  });

  it("takes the nearest, and the first of equally near ones", () => {
    expect(closestKey("abcd", ["abxx", "abcx"])).toBe("abcx");
    expect(closestKey("abcd", ["abcx", "abcy"])).toBe("abcx");
  });
});
