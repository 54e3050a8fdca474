/**
 * A Hugging Face tokenizer as GGUF metadata (`tokenizer.ggml.*`), in the two
 * forms llama.cpp reads:
 * - `gpt2`: byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM): the vocabulary in
 *   its byte-level spelling (`Ġthe`), the merges ("a b", by rank) and the
 *   pre-tokenizer's name (`tokenizer.ggml.pre`, which picks llama.cpp's split regex);
 * - `llama`: SentencePiece-style BPE with `▁` for spaces and byte fallback
 *   (Llama 2, stories260K): the pieces, a score per piece (llama.cpp merges
 *   the adjacent pair whose joined piece scores highest, so a piece's score is
 *   minus the rank of the merge that makes it) and token types (byte pieces
 *   `<0x41>` are BYTE, so unknown characters fall back to bytes).
 * Special tokens (BOS/EOS/UNK/PAD), whether BOS is added, and the chat
 * template are carried over. A vocabulary shorter than the embedding is padded
 * with unused `[PAD<i>]` tokens, as llama.cpp's own converter does.
 */
import type { GgufValue } from "./gguf-file.js";
import { bool, f32s, i32s, str, strings, u32 } from "./gguf-file.js";
import type { Tokenizer } from "./tokenizer.js";

/** llama.cpp's token types. */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

type TokenizerJson = {
  model?: {
    type?: string;
    vocab?: Record<string, number>;
    merges?: (string | [string, string])[];
    byte_fallback?: boolean;
    unk_token?: string | null;
  };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  decoder?: unknown;
};

/** Split regexes of known byte-level pre-tokenizers → llama.cpp's `tokenizer.ggml.pre` names. */
const KNOWN_SPLITS: [string, string][] = [
  [
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "llama-bpe",
  ],
  [
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "qwen2",
  ],
];

/** Every object nested in a tokenizer.json component (Sequence members included). */
function parts(component: unknown): Record<string, unknown>[] {
  if (component === null || typeof component !== "object") return [];
  const c = component as Record<string, unknown>;
  const nested = [c.normalizers, c.pretokenizers, c.decoders].filter(Array.isArray).flat() as unknown[];
  return [c, ...nested.flatMap(parts)];
}

/** llama.cpp's name for a byte-level pre-tokenizer (falls back to "default", its generic GPT-2-like split). */
function preTokenizerName(json: TokenizerJson): string {
  const pre = parts(json.pre_tokenizer);
  const split = pre.find((p) => p.type === "Split");
  const pattern = (split?.pattern as { Regex?: string } | undefined)?.Regex;
  if (pattern !== undefined) return KNOWN_SPLITS.find(([regex]) => regex === pattern)?.[1] ?? "default";
  const byteLevel = pre.find((p) => p.type === "ByteLevel");
  if (pre.some((p) => p.type === "Digits" && p.individual_digits === true) && byteLevel) return "smollm";
  if (byteLevel && byteLevel.use_regex !== false) return "gpt-2";
  return "default";
}

function isSentencePieceStyle(json: TokenizerJson): boolean {
  const all = [...parts(json.normalizer), ...parts(json.pre_tokenizer), ...parts(json.decoder)];
  const usesMetaspace = all.some(
    (p) =>
      p.type === "Metaspace" || (p.type === "Replace" && JSON.stringify(p).includes("▁")) || (p.type === "Prepend" && p.prepend === "▁"),
  );
  const byteLevel = all.some((p) => p.type === "ByteLevel");
  return usesMetaspace && !byteLevel;
}

/**
 * The `tokenizer.*` metadata for `tokenizer.json` (parsed) and the loaded
 * tokenizer (special ids, chat template), for an embedding of `vocabSize` rows.
 */
export function tokenizerMetadata(json: TokenizerJson, tokenizer: Tokenizer, vocabSize: number, source: string): Map<string, GgufValue> {
  const model = json.model;
  if (model?.type !== "BPE" || !model.vocab) {
    throw new Error(
      `${source}: tokenizer model ${JSON.stringify(model?.type)} cannot be converted to GGUF (byte-level BPE and SentencePiece-style BPE are supported)`,
    );
  }
  const tokens: string[] = [];
  for (const [piece, id] of Object.entries(model.vocab)) tokens[id] = piece;
  const special = new Set<number>();
  const added = new Set<number>();
  for (const t of json.added_tokens ?? []) {
    tokens[t.id] = t.content;
    added.add(t.id);
    if (t.special) special.add(t.id);
  }
  if (tokens.length > vocabSize) {
    throw new Error(`${source}: the tokenizer has ${tokens.length} tokens but the model's embedding only ${vocabSize} rows`);
  }
  const merges = (model.merges ?? []).map((m) => (Array.isArray(m) ? m : (m.split(" ") as [string, string])));
  const sentencePiece = isSentencePieceStyle(json);
  const types = new Int32Array(vocabSize).fill(TokenType.NORMAL);
  for (let id = 0; id < vocabSize; id++) {
    if (tokens[id] === undefined) {
      tokens[id] = `[PAD${id}]`;
      types[id] = TokenType.UNUSED;
    } else if (special.has(id)) types[id] = TokenType.CONTROL;
    else if (added.has(id)) types[id] = TokenType.USER_DEFINED;
    else if (sentencePiece && /^<0x[0-9A-F]{2}>$/.test(tokens[id] as string)) types[id] = TokenType.BYTE;
  }
  const unk = model.unk_token ? model.vocab[model.unk_token] : undefined;
  if (unk !== undefined) types[unk] = TokenType.UNKNOWN;

  const meta = new Map<string, GgufValue>();
  meta.set("tokenizer.ggml.model", str(sentencePiece ? "llama" : "gpt2"));
  if (!sentencePiece) meta.set("tokenizer.ggml.pre", str(preTokenizerName(json)));
  meta.set("tokenizer.ggml.tokens", strings(tokens));
  meta.set("tokenizer.ggml.token_type", i32s(types));
  if (sentencePiece) {
    // The piece a merge makes scores minus its rank; pieces no merge makes (single characters, bytes) score below all merges.
    const scores = new Float32Array(vocabSize).fill(-1e9);
    merges.forEach(([a, b], rank) => {
      const id = model.vocab?.[a + b];
      if (id !== undefined && (scores[id] as number) === -1e9) scores[id] = -rank;
    });
    meta.set("tokenizer.ggml.scores", f32s(scores));
    const prepends =
      parts(json.normalizer).some((p) => p.type === "Prepend") ||
      parts(json.pre_tokenizer).some((p) => p.type === "Metaspace" && p.prepend_scheme !== "never");
    meta.set("tokenizer.ggml.add_space_prefix", bool(prepends));
  } else {
    meta.set("tokenizer.ggml.merges", strings(merges.map(([a, b]) => `${a} ${b}`)));
  }
  if (tokenizer.bosTokenId !== null) meta.set("tokenizer.ggml.bos_token_id", u32(tokenizer.bosTokenId));
  const eos = tokenizer.eosTokenIds[0];
  if (eos !== undefined) meta.set("tokenizer.ggml.eos_token_id", u32(eos));
  if (unk !== undefined) meta.set("tokenizer.ggml.unknown_token_id", u32(unk));
  if (tokenizer.padTokenId !== null) meta.set("tokenizer.ggml.padding_token_id", u32(tokenizer.padTokenId));
  // Whether encoding adds BOS/EOS, read from what the tokenizer does rather than from config flags.
  const withSpecial = tokenizer.encode("a");
  const without = tokenizer.encode("a", { addSpecialTokens: false });
  meta.set(
    "tokenizer.ggml.add_bos_token",
    bool(tokenizer.bosTokenId !== null && withSpecial[0] === tokenizer.bosTokenId && without[0] !== tokenizer.bosTokenId),
  );
  meta.set("tokenizer.ggml.add_eos_token", bool(eos !== undefined && withSpecial.at(-1) === eos && without.at(-1) !== eos));
  if (tokenizer.chatTemplate !== null) meta.set("tokenizer.chat_template", str(tokenizer.chatTemplate));
  return meta;
}
