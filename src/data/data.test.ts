import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { ByteTokenizer } from "../models/byte-tokenizer.js";
import {
  messagesRowSchema,
  preferenceRowSchema,
  promptCompletionRowSchema,
  promptRowSchema,
  readJsonl,
  readJsonlRows,
  sftRowSchema,
  writeJsonl,
} from "./dataset.js";
import { packExamples, preferenceExample, promptIds, sftExample } from "./examples.js";
import { readLines } from "./files.js";

const FIXTURES = new URL("../../test/fixtures/data/", import.meta.url).pathname;
const file = (name: string) => `${FIXTURES}${name}`;
const tokenizer = new ByteTokenizer({ extraSpecialTokens: ["<|im_start|>", "<|im_end|>"] });
const bytes = (s: string) => [...Buffer.from(s, "utf8")];
const HH = file("hh-rlhf/train.jsonl.gz");
const tmp = mkdtempSync(join(tmpdir(), "precept-data-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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

  it("accepts a UTF-8 byte-order mark at the start of a file (plain and gzipped)", async () => {
    writeFileSync(join(tmp, "bom.jsonl"), '\uFEFF{"prompt": "a", "completion": "b"}\n{"prompt": "\uFEFFkept"}\n');
    expect(await readJsonl(join(tmp, "bom.jsonl"), promptRowSchema)).toEqual([{ prompt: "a" }, { prompt: "\uFEFFkept" }]);
    writeFileSync(join(tmp, "bom.jsonl.gz"), gzipSync('\uFEFF{"text": "t"}'));
    expect(await readJsonl(join(tmp, "bom.jsonl.gz"), sftRowSchema)).toEqual([{ text: "t" }]);
  });

  it("a prompt-completion row without its completion says so (not a problem with messages)", async () => {
    writeFileSync(join(tmp, "no-completion.jsonl"), '{"prompt": "a", "completion": "b"}\n{"prompt": "only a prompt"}\n');
    await expect(readJsonl(join(tmp, "no-completion.jsonl"), sftRowSchema)).rejects.toThrow(
      `${join(tmp, "no-completion.jsonl")}:2: field "completion": missing; a prompt-completion row needs both "prompt" and "completion"`,
    );
    writeFileSync(join(tmp, "bad-completion.jsonl"), '{"prompt": "a", "completion": 3}\n');
    await expect(readJsonl(join(tmp, "bad-completion.jsonl"), sftRowSchema)).rejects.toThrow(
      'bad-completion.jsonl:1: field "completion": expected a string or a list of {role, content} messages',
    );
    writeFileSync(join(tmp, "neither.jsonl"), '{"input": "a"}\n');
    await expect(readJsonl(join(tmp, "neither.jsonl"), sftRowSchema)).rejects.toThrow(
      `neither.jsonl:1: expected {"messages": [...]}, {"prompt", "completion"} or {"text"}; this row has "input"`,
    );
  });
});

describe("gzipped files and HH-RLHF's implicit prompts", () => {
  it("reads .jsonl.gz line by line, and plain files with CRLF or no final newline", async () => {
    const lines: number[] = [];
    for await (const { line } of readLines(HH)) lines.push(line);
    expect(lines).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    writeFileSync(join(tmp, "crlf.jsonl"), '{"prompt": "a"}\r\n\r\n{"prompt": "b"}');
    expect(await readJsonl(join(tmp, "crlf.jsonl"), promptRowSchema)).toEqual([{ prompt: "a" }, { prompt: "b" }]);
    // gzip is recognized by its bytes, whatever the name
    writeFileSync(join(tmp, "zipped.jsonl"), gzipSync('{"prompt": "z"}\n'));
    expect(await readJsonl(join(tmp, "zipped.jsonl"), promptRowSchema)).toEqual([{ prompt: "z" }]);
  });

  it("splits implicit-prompt rows on reading, and names the file:line of the rows it cannot read", async () => {
    const { rows, errors } = await readJsonlRows(HH, preferenceRowSchema);
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3, 6, 7, 8]);
    expect(rows[0]?.row).toEqual({
      prompt: "\n\nHuman: How do I get a stuck jar lid open?\n\nAssistant:",
      chosen: " Run the lid under hot water for a minute, then grip it with a rubber glove and twist.",
      rejected: " Run it over with your car.",
    });
    expect(rows[1]?.row.prompt).toMatch(/\n\nHuman: Yes, and nothing changed\.\n\nAssistant:$/);
    expect(rows[2]?.row.chosen).toBe(
      " Start with a few simple recipes you like and cook them often.\n\nHuman: Which ones?\n\nAssistant: Scrambled eggs, a pasta with tomato sauce, and a stir-fry.",
    );
    expect(errors).toEqual([
      `${HH}:4: no "prompt" field, and chosen and rejected share no prompt: they differ at character 9, before any "\\n\\nAssistant:" turn they have in common`,
      expect.stringMatching(new RegExp(`^${HH}:5: bad JSON: `)),
    ]);
    // Online RL reads the prompts of the same rows.
    const prompts = await readJsonlRows(HH, promptRowSchema);
    expect(prompts.rows.map((r) => r.row)).toEqual(rows.map((r) => ({ prompt: r.row.prompt })));
    // The trainers stop at the first bad row.
    await expect(readJsonl(HH, preferenceRowSchema)).rejects.toThrow(`${HH}:4: no "prompt" field, and chosen and rejected share no prompt`);
  });

  it("implicit rows: both transcripts must be strings or both message lists; identical ones are named", async () => {
    writeFileSync(
      join(tmp, "implicit-bad.jsonl"),
      [
        { chosen: 5, rejected: "x" },
        { chosen: "\n\nHuman: a\n\nAssistant: b", rejected: [{ role: "assistant", content: "b" }] },
        { chosen: "\n\nHuman: a\n\nAssistant: b", rejected: "\n\nHuman: a\n\nAssistant: b" },
      ]
        .map((row) => JSON.stringify(row))
        .join("\n"),
    );
    const { errors } = await readJsonlRows(join(tmp, "implicit-bad.jsonl"), preferenceRowSchema);
    expect(errors).toEqual([
      `${join(tmp, "implicit-bad.jsonl")}:1: field "chosen": expected a string or a list of {role, content} messages`,
      `${join(tmp, "implicit-bad.jsonl")}:2: no "prompt" field, and chosen and rejected must both be transcripts (strings) or both message lists`,
      `${join(tmp, "implicit-bad.jsonl")}:3: field "chosen": chosen and rejected are identical`,
    ]);
  });

  it("names the line where gzipped data is damaged", async () => {
    const whole = readFileSync(HH);
    writeFileSync(join(tmp, "cut.jsonl.gz"), whole.subarray(0, whole.length - 12));
    await expect(readJsonlRows(join(tmp, "cut.jsonl.gz"), preferenceRowSchema)).rejects.toThrow(
      /cut\.jsonl\.gz:\d+: the gzip data is damaged \(unexpected end of file\); download the file again/,
    );
  });

  it("writes .jsonl.gz when the name says so", async () => {
    writeJsonl(join(tmp, "out.jsonl.gz"), [{ prompt: "a" }]);
    expect(gunzipSync(readFileSync(join(tmp, "out.jsonl.gz"))).toString()).toBe('{"prompt":"a"}\n');
    expect(await readJsonl(join(tmp, "out.jsonl.gz"), promptRowSchema)).toEqual([{ prompt: "a" }]);
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
