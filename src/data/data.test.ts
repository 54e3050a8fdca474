import { describe, expect, it } from "vitest";
import { ByteTokenizer } from "../models/byte-tokenizer.js";
import { messagesRowSchema, preferenceRowSchema, promptCompletionRowSchema, promptRowSchema, readJsonl, sftRowSchema } from "./dataset.js";
import { packExamples, preferenceExample, promptIds, sftExample } from "./examples.js";

const FIXTURES = new URL("../../test/fixtures/data/", import.meta.url).pathname;
const file = (name: string) => `${FIXTURES}${name}`;
const tokenizer = new ByteTokenizer({ extraSpecialTokens: ["<|im_start|>", "<|im_end|>"] });
const bytes = (s: string) => [...Buffer.from(s, "utf8")];

describe("reading TRL-style JSONL", () => {
  it("reads every supported kind; blank lines are skipped", async () => {
    expect(await readJsonl(file("sft-prompt-completion.jsonl"), promptCompletionRowSchema)).toEqual([
      { prompt: "Hi", completion: "yo" },
      { prompt: "2+2=", completion: "4" },
    ]);
    expect((await readJsonl(file("sft-messages.jsonl"), messagesRowSchema))[0]?.messages).toHaveLength(4);
    const prefs = await readJsonl(file("preferences.jsonl"), preferenceRowSchema);
    expect(prefs).toHaveLength(2);
    expect(prefs[0]?.margin).toBe(1.5);
    expect(prefs[1]?.label).toBe(0.8);
    expect(await readJsonl(file("prompts.jsonl"), promptRowSchema)).toHaveLength(2);
    expect(await readJsonl(file("sft-messages.jsonl"), sftRowSchema)).toHaveLength(1);
  });

  it("names the file, line and field of a bad row", async () => {
    await expect(readJsonl(file("bad-type.jsonl"), preferenceRowSchema)).rejects.toThrow(
      `${file("bad-type.jsonl")}:2: field "chosen": expected a string or a list of {role, content} messages`,
    );
    await expect(readJsonl(file("bad-json.jsonl"), preferenceRowSchema)).rejects.toThrow(
      new RegExp(`${file("bad-json.jsonl")}:2: bad JSON`),
    );
    await expect(readJsonl(file("missing-field.jsonl"), preferenceRowSchema)).rejects.toThrow(
      `${file("missing-field.jsonl")}:1: field "chosen"`,
    );
    await expect(readJsonl(file("chosen-equals-rejected.jsonl"), preferenceRowSchema)).rejects.toThrow(
      `${file("chosen-equals-rejected.jsonl")}:2: field "chosen": chosen and rejected are identical`,
    );
    await expect(readJsonl(file("empty.jsonl"), preferenceRowSchema)).rejects.toThrow(
      `${file("empty.jsonl")}: no rows (the file is empty)`,
    );
    await expect(readJsonl(file("nope.jsonl"), preferenceRowSchema)).rejects.toThrow(/nope.jsonl: no such file/);
  });
});

describe("tokenizing rows for the trainers", () => {
  it("prompt-completion: loss on the completion and the EOS only", () => {
    const example = sftExample({ prompt: "Hi", completion: "yo" }, tokenizer, { maxLength: 64 });
    expect(example.ids).toEqual([72, 105, 121, 111, 256]);
    expect(example.lossMask).toEqual([0, 0, 1, 1, 1]);
    expect(sftExample({ prompt: "Hi", completion: "yo" }, tokenizer, { maxLength: 64, completionOnly: false }).lossMask).toEqual([
      1, 1, 1, 1, 1,
    ]);
    expect(sftExample({ prompt: "Hi", completion: "yo" }, tokenizer, { maxLength: 3 }).ids).toEqual([72, 105, 121]);
  });

  it("messages: loss on each assistant turn (with its end-of-turn tokens), not on user turns", () => {
    const messages = [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Yo" },
      { role: "user", content: "Bye" },
      { role: "assistant", content: "Ok" },
    ];
    const { ids, lossMask } = sftExample({ messages }, tokenizer, { maxLength: 256 });
    const text = tokenizer.decode(ids);
    expect(text).toBe(
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\nOk<|im_end|>\n",
    );
    const trained = tokenizer.decode(ids.filter((_, i) => lossMask[i] === 1));
    expect(trained).toBe("Yo<|im_end|>\nOk<|im_end|>\n");
  });

  it("preferences: shared prompt ids, completions with EOS, margins and soft labels carried", () => {
    const example = preferenceExample({ prompt: "Q", chosen: "a", rejected: "bc", margin: 2, label: 0.7 }, tokenizer, { maxLength: 64 });
    expect(example).toEqual({ prompt: bytes("Q"), chosen: [...bytes("a"), 256], rejected: [...bytes("bc"), 256], margin: 2, label: 0.7 });
    const chat = preferenceExample(
      {
        prompt: [{ role: "user", content: "Hi" }],
        chosen: [{ role: "assistant", content: "Yo" }],
        rejected: [{ role: "assistant", content: "No" }],
      },
      tokenizer,
      { maxLength: 64 },
    );
    expect(tokenizer.decode(chat.prompt)).toBe("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    expect(tokenizer.decode(chat.chosen)).toBe("Yo<|im_end|>\n");
  });

  it("packing concatenates examples into full rows, carrying the loss masks", () => {
    const a = sftExample({ prompt: "ab", completion: "c" }, tokenizer, { maxLength: 64 }); // a b c EOS
    const b = sftExample({ prompt: "d", completion: "ef" }, tokenizer, { maxLength: 64 }); // d e f EOS
    const packed = packExamples([a, b], 3);
    expect(packed.map((r) => r.ids)).toEqual([
      [97, 98, 99],
      [256, 100, 101],
      [102, 256],
    ]);
    expect(packed.map((r) => r.lossMask)).toEqual([
      [0, 0, 1],
      [1, 0, 1],
      [1, 1],
    ]);
  });

  it("prompts for online RL: plain text, or chat-templated with the generation prompt", () => {
    expect(promptIds({ prompt: "Hi" }, tokenizer)).toEqual(bytes("Hi"));
    expect(tokenizer.decode(promptIds({ prompt: [{ role: "user", content: "Hi" }] }, tokenizer))).toBe(
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    );
  });
});
