/**
 * A byte-level tokenizer for models Precept trains from scratch: ids 0–255 are
 * the raw UTF-8 bytes, special tokens follow from 256. It needs no training and
 * covers any text. It saves as a standard byte-level BPE `tokenizer.json` with
 * no merges, which Hugging Face tokenizers (JS and Python) load to the same ids.
 */
import { CHATML_TEMPLATE, type ChatMessage, renderChatTemplate } from "./chat-template.js";
import { type ApplyChatTemplateOptions, type DecodeOptions, idOutOfRangeError, noChatTemplateError, type Tokenizer } from "./tokenizer.js";

/** Id 256: BOS, EOS and padding of every ByteTokenizer. */
export const END_OF_TEXT = "<|endoftext|>";
const BYTE_COUNT = 256;

export interface ByteTokenizerOptions {
  /** Special tokens after `<|endoftext|>`, given ids 257, 258, ... in this order (e.g. `<|im_start|>`, `<|im_end|>`). */
  extraSpecialTokens?: readonly string[];
  /** Jinja chat template; default ChatML, null for none. */
  chatTemplate?: string | null;
  /** Strings that end a chat reply (saved as `stop_strings` in generation_config.json); default none. */
  stopStrings?: readonly string[];
}

/**
 * GPT-2's `bytes_to_unicode`: byte-level BPE vocabularies spell byte b as one
 * visible character, printable Latin-1 bytes as themselves and the others
 * shifted to U+0100 and up (so a space is "Ġ"). Index b holds byte b's character.
 */
export const BYTE_CHARS: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let shifted = 0;
  for (let b = 0; b < BYTE_COUNT; b++) chars.push(String.fromCharCode(printable(b) ? b : BYTE_COUNT + shifted++));
  return chars;
})();
const BYTE_OF_CHAR = new Map(BYTE_CHARS.map((char, byte) => [char, byte]));

/** `tokenizer.json`'s `added_tokens` for special tokens numbered from `firstId`. */
export function addedTokensJson(tokens: readonly string[], firstId: number): Record<string, unknown>[] {
  return tokens.map((content, i) => ({
    id: firstId + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
}

export class ByteTokenizer implements Tokenizer {
  /** All special tokens in id order, from 256. */
  readonly specialTokens: readonly string[];
  readonly vocabSize: number;
  readonly bosTokenId = BYTE_COUNT;
  readonly eosTokenIds: readonly number[] = [BYTE_COUNT];
  readonly padTokenId = BYTE_COUNT;
  readonly stopStrings: readonly string[];
  readonly chatTemplate: string | null;
  readonly #idOfSpecial: Map<string, number>;
  /** Longest first, so that of two specials starting at the same place the longer wins, as in `tokenizers`. */
  readonly #specialsLongestFirst: readonly string[];
  readonly #specialFirstChars: Set<string>;
  // Non-fatal so invalid UTF-8 becomes U+FFFD; ignoreBOM so a leading U+FEFF survives the round trip.
  readonly #utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  readonly #encoder = new TextEncoder();

  constructor(options: ByteTokenizerOptions = {}) {
    this.specialTokens = [END_OF_TEXT, ...(options.extraSpecialTokens ?? [])];
    this.#idOfSpecial = new Map();
    for (const token of this.specialTokens) {
      if (token.length === 0) throw new Error("ByteTokenizer: a special token cannot be the empty string");
      if (this.#idOfSpecial.has(token)) throw new Error(`ByteTokenizer: special token ${JSON.stringify(token)} is given twice`);
      this.#idOfSpecial.set(token, BYTE_COUNT + this.#idOfSpecial.size);
    }
    this.#specialsLongestFirst = [...this.specialTokens].sort((a, b) => b.length - a.length);
    this.#specialFirstChars = new Set(this.specialTokens.map((token) => token.charAt(0)));
    this.vocabSize = BYTE_COUNT + this.specialTokens.length;
    this.chatTemplate = options.chatTemplate === undefined ? CHATML_TEMPLATE : options.chatTemplate;
    this.stopStrings = options.stopStrings ?? [];
  }

  /**
   * Special-token strings in the text become their ids; everything else its UTF-8 bytes (lone surrogates as U+FFFD).
   * Nothing is added around the text (as GPT-2), so `addSpecialTokens` changes nothing here.
   */
  encode(text: string): number[] {
    const ids: number[] = [];
    let plainStart = 0;
    let i = 0;
    while (i < text.length) {
      const special = this.#specialAt(text, i);
      if (special === undefined) {
        i++;
        continue;
      }
      for (const byte of this.#encoder.encode(text.slice(plainStart, i))) ids.push(byte);
      ids.push(this.#idOfSpecial.get(special) as number);
      i += special.length;
      plainStart = i;
    }
    for (const byte of this.#encoder.encode(text.slice(plainStart))) ids.push(byte);
    return ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const parts: string[] = [];
    let bytes: number[] = [];
    const flushBytes = () => {
      if (bytes.length > 0) parts.push(this.#utf8.decode(Uint8Array.from(bytes)));
      bytes = [];
    };
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw idOutOfRangeError(id, this.vocabSize);
      if (id < BYTE_COUNT) bytes.push(id);
      // A skipped special does not split the bytes around it, as in `tokenizers`, which drops skipped ids before decoding.
      else if (!options.skipSpecialTokens) {
        flushBytes();
        parts.push(this.specialTokens[id - BYTE_COUNT] as string);
      }
    }
    flushBytes();
    return parts.join("");
  }

  /** Byte ids answer to their byte-level character ("Ġ" is 32), as in the saved `tokenizer.json`. */
  tokenToId(token: string): number | undefined {
    return this.#idOfSpecial.get(token) ?? BYTE_OF_CHAR.get(token);
  }

  idToToken(id: number): string | undefined {
    return BYTE_CHARS[id] ?? this.specialTokens[id - BYTE_COUNT];
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: ApplyChatTemplateOptions = {}): string {
    if (this.chatTemplate === null) throw noChatTemplateError();
    return renderChatTemplate(this.chatTemplate, messages, {
      addGenerationPrompt: options.addGenerationPrompt ?? false,
      bosToken: END_OF_TEXT,
      eosToken: END_OF_TEXT,
      variables: { pad_token: END_OF_TEXT },
    });
  }

  /**
   * Byte-level BPE with the 256 byte characters as vocabulary and no merges, so
   * each byte is its own token. `use_regex: false` keeps the pre-tokenizer from
   * splitting text into words, which with no merges would change nothing but speed.
   * Python's `tokenizers` numbers added tokens by their order after the model's
   * vocabulary, not by their `id` field: the specials' ids 256, 257, ... agree with that.
   */
  toTokenizerJson(): Record<string, unknown> {
    const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false };
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: addedTokensJson(this.specialTokens, BYTE_COUNT),
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: null,
      decoder: byteLevel,
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab: Object.fromEntries(BYTE_CHARS.map((char, byte) => [char, byte])),
        merges: [],
      },
    };
  }

  toTokenizerConfig(): Record<string, unknown> {
    return {
      tokenizer_class: "PreTrainedTokenizerFast",
      bos_token: END_OF_TEXT,
      eos_token: END_OF_TEXT,
      pad_token: END_OF_TEXT,
      additional_special_tokens: this.specialTokens.slice(1),
      clean_up_tokenization_spaces: false,
      ...(this.chatTemplate === null ? {} : { chat_template: this.chatTemplate }),
    };
  }

  #specialAt(text: string, index: number): string | undefined {
    if (!this.#specialFirstChars.has(text.charAt(index))) return undefined;
    return this.#specialsLongestFirst.find((token) => text.startsWith(token, index));
  }
}
