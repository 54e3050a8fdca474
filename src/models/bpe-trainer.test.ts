import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { trainBpe } from "./bpe-trainer.js";
import { loadTokenizer } from "./tokenizer.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-bpe-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TEXTS = Array.from(
  { length: 200 },
  (_, i) => `Human: How do I boil an egg number ${i}?\n\nAssistant: Boil it for nine minutes, then cool it.`,
);

async function saved(json: Record<string, unknown>, name: string) {
  const dir = join(tmp, name);
  const { mkdirSync } = await import("node:fs");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(json));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|endoftext|>", pad_token: "<|endoftext|>" }));
  return loadTokenizer(dir);
}

describe("byte-level BPE training", () => {
  it("learns merges that shorten the domain's text, loads as a standard tokenizer.json and round-trips any text", async () => {
    const json = trainBpe(TEXTS, { vocabSize: 300 });
    expect(json).toEqual(trainBpe(TEXTS, { vocabSize: 300 }));
    const model = json.model as { vocab: Record<string, number>; merges: string[] };
    expect(Object.keys(model.vocab)).toHaveLength(300);
    expect(model.merges.length).toBe(300 - 256 - 1);
    const tokenizer = await saved(json, "a");
    expect(tokenizer.vocabSize).toBe(300);
    expect(tokenizer.eosTokenIds).toEqual([299]);
    const text = TEXTS[7] as string;
    const ids = tokenizer.encode(text);
    expect(ids.length).toBeLessThan(Buffer.byteLength(text) / 2);
    expect(tokenizer.decode(ids)).toBe(text);
    for (const other of ["ünïcode 😀 and\ttabs", "  leading spaces\n\n\nnewlines", "<|endoftext|>"])
      expect(tokenizer.decode(tokenizer.encode(other))).toBe(other);
    expect(tokenizer.encode("<|endoftext|>")).toEqual([299]);
  });
  it("stops early when no pair is frequent enough", () => {
    const json = trainBpe(["ab"], { vocabSize: 1000 });
    expect((json.model as { merges: string[] }).merges).toEqual([]);
  });
});
