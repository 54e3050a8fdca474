import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ByteTokenizer, END_OF_TEXT } from "./byte-tokenizer.js";
import { CHATML_TEMPLATE } from "./chat-template.js";
import { loadTokenizer, saveTokenizer, type Tokenizer } from "./tokenizer.js";

const root = mkdtempSync(join(tmpdir(), "precept-tok-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => {
  const dir = join(root, `d${dirs++}`);
  mkdirSync(dir);
  return dir;
};
const tinyBpe = fileURLToPath(new URL("../../test/fixtures/tokenizers/tiny-bpe/", import.meta.url));
const tinyBpeConfig = JSON.parse(readFileSync(join(tinyBpe, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;

/** The tiny BPE fixture's tokenizer.json with a tokenizer_config.json of our choosing (and other files). */
function tinyBpeWith(config: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = freshDir();
  cpSync(join(tinyBpe, "tokenizer.json"), join(dir, "tokenizer.json"));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const CHAT_SPECIALS = ["<|im_start|>", "<|im_end|>"];

/** Strings that tend to break tokenizers: whitespace runs, multi-byte UTF-8, specials glued to text or almost special. */
const TRICKY = [
  "",
  "a",
  "Hello, world!",
  "  leading and trailing spaces  ",
  "tabs\tand\nnew\r\nlines\n\n",
  "café naïve résumé Ångström",
  "e\u0301 combining accent",
  "日本語のテキスト、中文字符",
  "emoji 👩‍👩‍👧‍👦 🇫🇷 😀",
  "\u0000 NUL, \u007f DEL, \u0085 NEL",
  "\uFEFFstarts with a byte-order mark",
  "the byte-level alphabet itself: Ġ Ā ĉ ł",
  " ? ! . , 's n't  spaces a clean-up would eat",
  END_OF_TEXT,
  `text${END_OF_TEXT}more${END_OF_TEXT}${END_OF_TEXT}`,
  "<|im_start|>user\nhi<|im_end|>\n",
  "almost special: <|endoftext| <|im_start <|im_end|",
  "<<|im_end|>>",
];

describe("ByteTokenizer", () => {
  const tokenizer = new ByteTokenizer({ extraSpecialTokens: CHAT_SPECIALS });

  it("encodes text as its UTF-8 bytes", () => {
    expect(tokenizer.encode("")).toEqual([]);
    expect(tokenizer.encode("hi!")).toEqual([104, 105, 33]);
    expect(tokenizer.encode("é")).toEqual([0xc3, 0xa9]);
    expect(tokenizer.encode("中")).toEqual([0xe4, 0xb8, 0xad]);
    expect(tokenizer.encode("😀")).toEqual([0xf0, 0x9f, 0x98, 0x80]);
  });

  it("encodes special-token strings in the text as their ids, after the 256 bytes", () => {
    expect(tokenizer.vocabSize).toBe(259);
    expect(tokenizer.encode(`a${END_OF_TEXT}b`)).toEqual([97, 256, 98]);
    expect(tokenizer.encode("<|im_start|>x<|im_end|>")).toEqual([257, 120, 258]);
    // Not quite special: plain bytes.
    expect(tokenizer.encode("<|im_end|")).toEqual([...Buffer.from("<|im_end|")]);
  });

  it("round-trips any text", () => {
    for (const text of TRICKY) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it("decodes bytes that are not UTF-8 to U+FFFD instead of throwing", () => {
    expect(tokenizer.decode([0xff, 0x41])).toBe("\uFFFDA");
    expect(tokenizer.decode([0xe4, 0xb8])).toBe("\uFFFD");
    expect(tokenizer.decode([0xed, 0xa0, 0x80])).toBe("\uFFFD\uFFFD\uFFFD");
    // A lone surrogate has no UTF-8 form: it goes out as U+FFFD's bytes.
    expect(tokenizer.decode(tokenizer.encode("a\uD800b"))).toBe("a\uFFFDb");
  });

  it("skips special tokens on request, joining the bytes around them", () => {
    const ids = [0xe4, 256, 0xb8, 0xad];
    expect(tokenizer.decode(ids)).toBe(`\uFFFD${END_OF_TEXT}\uFFFD\uFFFD`);
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe("中");
  });

  it("refuses ids outside the vocabulary, naming the id and the vocabulary size", () => {
    expect(() => tokenizer.decode([65, 259])).toThrow("Cannot decode token id 259: the vocabulary has 259 tokens (ids 0 to 258)");
    expect(() => tokenizer.decode([-1])).toThrow("token id -1");
    expect(() => tokenizer.decode([1.5])).toThrow("token id 1.5");
  });

  it("uses <|endoftext|> as BOS, EOS and padding, and names bytes by their byte-level characters", () => {
    expect([tokenizer.bosTokenId, tokenizer.eosTokenIds, tokenizer.padTokenId]).toEqual([256, [256], 256]);
    expect(tokenizer.idToToken(32)).toBe("Ġ");
    expect(tokenizer.idToToken(65)).toBe("A");
    expect(tokenizer.idToToken(258)).toBe("<|im_end|>");
    expect(tokenizer.idToToken(259)).toBeUndefined();
    expect(tokenizer.tokenToId("Ġ")).toBe(32);
    expect(tokenizer.tokenToId("<|im_start|>")).toBe(257);
    expect(tokenizer.tokenToId(" ")).toBeUndefined();
  });

  it("rejects empty and repeated special tokens", () => {
    expect(() => new ByteTokenizer({ extraSpecialTokens: [""] })).toThrow("empty string");
    expect(() => new ByteTokenizer({ extraSpecialTokens: [END_OF_TEXT] })).toThrow("given twice");
  });

  it("renders ChatML by default, whose markers encode as special ids", () => {
    const prompt = tokenizer.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: true });
    expect(prompt).toBe("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    expect(tokenizer.encode(prompt).slice(0, 8)).toEqual([257, 117, 115, 101, 114, 10, 104, 105]);
  });

  it("says so when asked for a chat template it does not have", () => {
    const plain = new ByteTokenizer({ chatTemplate: null });
    expect(() => plain.applyChatTemplate([{ role: "user", content: "hi" }])).toThrow("This tokenizer has no chat template");
  });

  it("writes a byte-level BPE tokenizer.json: 256 byte characters, no merges, specials as added tokens", () => {
    const json = tokenizer.toTokenizerJson() as {
      model: { type: string; vocab: Record<string, number>; merges: unknown[] };
      pre_tokenizer: Record<string, unknown>;
      decoder: Record<string, unknown>;
      added_tokens: { id: number; content: string; special: boolean }[];
    };
    expect(json.model.type).toBe("BPE");
    expect(json.model.merges).toEqual([]);
    expect(Object.keys(json.model.vocab)).toHaveLength(256);
    expect(new Set(Object.values(json.model.vocab)).size).toBe(256);
    // GPT-2's table: printable bytes as themselves; 0-32, 127-160 and 173 shifted, in order, to U+0100 (Ā) ... U+0143 (Ń).
    const { vocab } = json.model;
    expect([vocab["!"], vocab.ÿ, vocab.Ā, vocab.Ġ, vocab.ġ, vocab.ł, vocab.Ń]).toEqual([33, 255, 0, 32, 127, 160, 173]);
    expect(json.pre_tokenizer).toMatchObject({ type: "ByteLevel", add_prefix_space: false, use_regex: false });
    expect(json.decoder).toMatchObject({ type: "ByteLevel" });
    expect(json.added_tokens.map(({ id, content, special }) => [id, content, special])).toEqual([
      [256, END_OF_TEXT, true],
      [257, "<|im_start|>", true],
      [258, "<|im_end|>", true],
    ]);
  });
});

/** A fixed pseudo-random sequence (LCG), so failures reproduce. */
function* pseudoRandom(seed: number): Generator<number> {
  let state = seed;
  for (;;) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    yield state / 2 ** 31;
  }
}

describe("ByteTokenizer saved as tokenizer.json and loaded with @huggingface/tokenizers", () => {
  const byte = new ByteTokenizer({ extraSpecialTokens: CHAT_SPECIALS });
  const dir = freshDir();
  let loaded: Tokenizer;

  it("loads with the same vocabulary, special ids and chat template", async () => {
    await saveTokenizer(byte, dir);
    loaded = await loadTokenizer(dir);
    expect(loaded.vocabSize).toBe(259);
    expect([loaded.bosTokenId, loaded.eosTokenIds, loaded.padTokenId]).toEqual([256, [256], 256]);
    expect(loaded.chatTemplate).toBe(CHATML_TEMPLATE);
    for (let id = 0; id < 259; id++) {
      expect(loaded.idToToken(id)).toBe(byte.idToToken(id));
      expect(loaded.tokenToId(byte.idToToken(id) as string)).toBe(id);
    }
  });

  it("encodes and decodes every tricky string exactly as ByteTokenizer does", () => {
    for (const text of [...TRICKY, "a\uD800b lone surrogate"]) {
      const ids = byte.encode(text);
      expect(loaded.encode(text), JSON.stringify(text)).toEqual(ids);
      expect(loaded.encode(text, { addSpecialTokens: false })).toEqual(ids);
      expect(loaded.decode(ids)).toBe(byte.decode(ids));
      expect(loaded.decode(ids, { skipSpecialTokens: true })).toBe(byte.decode(ids, { skipSpecialTokens: true }));
    }
  });

  it("decodes random id sequences, invalid UTF-8 included, exactly as ByteTokenizer does", () => {
    const random = pseudoRandom(7);
    const next = () => random.next().value as number;
    for (let trial = 0; trial < 300; trial++) {
      const ids = Array.from({ length: Math.floor(next() * 12) }, () =>
        next() < 0.1 ? 256 + Math.floor(next() * 3) : Math.floor(next() * 256),
      );
      expect(loaded.decode(ids), JSON.stringify(ids)).toBe(byte.decode(ids));
      expect(loaded.decode(ids, { skipSpecialTokens: true })).toBe(byte.decode(ids, { skipSpecialTokens: true }));
    }
  });

  it("renders the same chat prompt", () => {
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "hi" },
    ];
    expect(loaded.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
      byte.applyChatTemplate(messages, { addGenerationPrompt: true }),
    );
  });

  it("refuses ids outside the vocabulary like ByteTokenizer", () => {
    expect(() => loaded.decode([65, 259])).toThrow("Cannot decode token id 259: the vocabulary has 259 tokens");
    expect(() => loaded.decode([-1])).toThrow("token id -1");
  });

  it("saves again to the same files", async () => {
    const again = freshDir();
    await saveTokenizer(loaded, again);
    for (const name of ["tokenizer.json", "tokenizer_config.json"]) {
      expect(JSON.parse(readFileSync(join(again, name), "utf8"))).toEqual(JSON.parse(readFileSync(join(dir, name), "utf8")));
    }
  });
});

describe("a hand-written GPT-2-style BPE tokenizer.json", () => {
  /*
   * test/fixtures/tokenizers/tiny-bpe: vocab ! d e h l o r w Ġ (ids 0-8), then merge results,
   * merges by rank: 0 "l o", 1 "h e", 2 "l l", 3 "Ġ w", 4 "lo w", 5 "he ll", 6 "hell o", 7 "o r", 8 "Ġw or";
   * <|endoftext|> = 18 is an added special token.
   *
   * "hello world! low<|endoftext|>": the special is split off first, the GPT-2 regex splits the rest
   * into "hello" " world" "!" " low", and ByteLevel spells the space as Ġ.
   * - "hello": pairs he(1) el(-) ll(2) lo(0); rank 0 first → h e l lo; then he(1) → he l lo;
   *   he+l, l+lo are no merges. "ll" lost to "lo", so "hell"/"hello" never form: he l lo = 10 4 9.
   * - "Ġworld": Ġw(3) → Ġw o r l d; or(7) → Ġw or l d; Ġw+or(8) → Ġwor l d = 17 4 1.
   * - "!" = 0.   - "Ġlow": lo(0) → Ġ lo w; lo+w(4) → Ġ low = 8 13.   - <|endoftext|> = 18.
   */
  const text = `hello world! low${END_OF_TEXT}`;
  const ids = [10, 4, 9, 17, 4, 1, 0, 8, 13, 18];

  it("encodes by merge rank, not left to right", async () => {
    const tokenizer = await loadTokenizer(tinyBpe);
    expect(tokenizer.encode(text)).toEqual(ids);
    expect(tokenizer.encode("low !")).toEqual([13, 8, 0]);
  });

  it("decodes back to the text, without the special on request", async () => {
    const tokenizer = await loadTokenizer(tinyBpe);
    expect(tokenizer.decode(ids)).toBe(text);
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe("hello world! low");
    expect(tokenizer.idToToken(17)).toBe("Ġwor");
    expect(tokenizer.tokenToId("hello")).toBe(15);
  });

  it("reads bos/eos from tokenizer_config.json in {content} and string forms", async () => {
    const tokenizer = await loadTokenizer(tinyBpe);
    expect(tokenizer.vocabSize).toBe(19);
    expect(tokenizer.bosTokenId).toBe(18);
    expect(tokenizer.eosTokenIds).toEqual([18]);
    expect(tokenizer.padTokenId).toBeNull();
    expect(tokenizer.chatTemplate).toBeNull();
  });

  it("cleans up spaces before punctuation only when the config asks", async () => {
    const plain = await loadTokenizer(tinyBpe);
    expect(plain.decode([13, 8, 0])).toBe("low !");
    const cleaning = await loadTokenizer(tinyBpeWith({ ...tinyBpeConfig, clean_up_tokenization_spaces: true }));
    expect(cleaning.decode([13, 8, 0])).toBe("low!");
  });
});

describe("loadTokenizer reads tokenizer_config.json and generation_config.json", () => {
  it("reads pad in {content} form and a string chat_template", async () => {
    const dir = tinyBpeWith({
      bos_token: "<|endoftext|>",
      eos_token: { content: "<|endoftext|>", special: true },
      pad_token: { __type: "AddedToken", content: "!", lstrip: false },
      chat_template: "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}{{ eos_token }}",
    });
    const tokenizer = await loadTokenizer(dir);
    expect([tokenizer.bosTokenId, tokenizer.eosTokenIds, tokenizer.padTokenId]).toEqual([18, [18], 0]);
    expect(tokenizer.applyChatTemplate([{ role: "user", content: "hello" }])).toBe(`${END_OF_TEXT}hello${END_OF_TEXT}`);
  });

  it("takes the template named default from a list-form chat_template, and saves the list back", async () => {
    const chatTemplate = [
      { name: "tool_use", template: "TOOLS" },
      { name: "default", template: "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{% endfor %}" },
    ];
    const tokenizer = await loadTokenizer(tinyBpeWith({ ...tinyBpeConfig, chat_template: chatTemplate }));
    expect(tokenizer.applyChatTemplate([{ role: "user", content: "hi" }])).toBe("user: hi");
    const saved = freshDir();
    await saveTokenizer(tokenizer, saved);
    expect(JSON.parse(readFileSync(join(saved, "tokenizer_config.json"), "utf8")).chat_template).toEqual(chatTemplate);
  });

  it("lets chat_template.jinja override the config's template, as transformers does", async () => {
    const dir = tinyBpeWith({ ...tinyBpeConfig, chat_template: "FROM CONFIG" }, { "chat_template.jinja": "FROM FILE" });
    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.chatTemplate).toBe("FROM FILE");
  });

  it("adds generation_config.json's eos_token_id (number or list) after the config's EOS", async () => {
    const list = await loadTokenizer(tinyBpeWith(tinyBpeConfig, { "generation_config.json": JSON.stringify({ eos_token_id: [0, 18] }) }));
    expect(list.eosTokenIds).toEqual([18, 0]);
    const single = await loadTokenizer(tinyBpeWith({}, { "generation_config.json": JSON.stringify({ eos_token_id: 13 }) }));
    expect(single.eosTokenIds).toEqual([13]);
    expect(single.bosTokenId).toBeNull();
  });

  it("reads generation_config.json's stop_strings (a string or a list); none when absent", async () => {
    const list = await loadTokenizer(
      tinyBpeWith(tinyBpeConfig, { "generation_config.json": JSON.stringify({ stop_strings: ["\n\n", "User:"] }) }),
    );
    expect(list.stopStrings).toEqual(["\n\n", "User:"]);
    const single = await loadTokenizer(tinyBpeWith(tinyBpeConfig, { "generation_config.json": JSON.stringify({ stop_strings: "###" }) }));
    expect(single.stopStrings).toEqual(["###"]);
    expect((await loadTokenizer(tinyBpe)).stopStrings).toEqual([]);
  });
});

describe("loadTokenizer errors", () => {
  it("names the missing tokenizer.json and its directory; tokenizer_config.json is optional", async () => {
    const empty = freshDir();
    await expect(loadTokenizer(empty)).rejects.toThrow(`Missing tokenizer.json in ${empty}`);
    const noConfig = freshDir();
    cpSync(join(tinyBpe, "tokenizer.json"), join(noConfig, "tokenizer.json"));
    const bare = await loadTokenizer(noConfig);
    expect(bare.bosTokenId).toBeNull();
    expect(bare.chatTemplate).toBeNull();
    expect(bare.decode(bare.encode("hello world"))).toBe("hello world");
  });

  it("names the file with bad JSON and gives the parser's message", async () => {
    const bad = '{"bos_token": "<|endoftext|>",}';
    let parserMessage = "";
    try {
      JSON.parse(bad);
    } catch (error) {
      parserMessage = (error as Error).message;
    }
    const dir = tinyBpeWith({});
    writeFileSync(join(dir, "tokenizer_config.json"), bad);
    await expect(loadTokenizer(dir)).rejects.toThrow(`tokenizer_config.json in ${dir} is not valid JSON: ${parserMessage}`);
  });

  it("says which field of tokenizer_config.json is wrong", async () => {
    const wrongType = tinyBpeWith({ bos_token: 5 });
    await expect(loadTokenizer(wrongType)).rejects.toThrow(`tokenizer_config.json in ${wrongType} is malformed: bos_token:`);
    const unknownToken = tinyBpeWith({ eos_token: "</s>" });
    await expect(loadTokenizer(unknownToken)).rejects.toThrow(
      `tokenizer_config.json in ${unknownToken}: eos_token "</s>" is not in the vocabulary`,
    );
  });

  it("reports what the tokenizer library cannot load", async () => {
    const dir = tinyBpeWith(tinyBpeConfig);
    const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify({ ...json, pre_tokenizer: { type: "UnicodeScripts" } }));
    await expect(loadTokenizer(dir)).rejects.toThrow(
      `tokenizer.json in ${dir} cannot be loaded: Unknown PreTokenizer type: UnicodeScripts`,
    );
  });

  it("refuses to decode an id outside the vocabulary, naming the id and the vocabulary size", async () => {
    const tokenizer = await loadTokenizer(tinyBpe);
    expect(() => tokenizer.decode([10, 19])).toThrow("Cannot decode token id 19: the vocabulary has 19 tokens (ids 0 to 18)");
    expect(tokenizer.decode([])).toBe("");
  });

  it("says so when applying a chat template the tokenizer does not have", async () => {
    const tokenizer = await loadTokenizer(tinyBpe);
    expect(() => tokenizer.applyChatTemplate([{ role: "user", content: "hi" }])).toThrow("This tokenizer has no chat template");
  });
});
