/**
 * Training a byte-level BPE tokenizer (GPT-2's scheme): text is split into
 * words by GPT-2's pattern, each word written as byte characters, and the
 * most frequent adjacent pair merged, again and again, until the vocabulary
 * has the requested size. The result is a standard `tokenizer.json` that
 * `loadTokenizer` (and Python's `tokenizers`) read. Small domains, like the
 * sandbox world, get sequences several times shorter than raw bytes.
 */
import { addedTokensJson, BYTE_CHARS } from "./byte-tokenizer.js";

/** GPT-2's pre-tokenization pattern. */
const WORDS = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export type BpeTrainOptions = {
  /** Size of the vocabulary, the 256 bytes and the special tokens included. */
  vocabSize: number;
  specialTokens?: string[];
  /** Pairs seen fewer times are never merged. */
  minFrequency?: number;
};

function toByteChars(word: string): string[] {
  return [...new TextEncoder().encode(word)].map((b) => BYTE_CHARS[b] as string);
}

export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): Record<string, unknown> {
  const specials = options.specialTokens ?? ["<|endoftext|>"];
  const counts = new Map<string, number>();
  for (const text of texts) for (const match of text.matchAll(WORDS)) counts.set(match[0], (counts.get(match[0]) ?? 0) + 1);
  const words = [...counts].map(([word, count]) => ({ symbols: toByteChars(word), count }));
  const vocab = new Map<string, number>(BYTE_CHARS.map((c, i) => [c, i]));
  const merges: string[] = [];
  const target = options.vocabSize - specials.length;
  while (vocab.size < target) {
    const pairs = new Map<string, number>();
    for (const w of words)
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const key = `${w.symbols[i]} ${w.symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + w.count);
      }
    let best: string | null = null;
    let bestCount = options.minFrequency ?? 2;
    // Ties go to the lexicographically smallest pair, so training is deterministic.
    for (const [key, count] of pairs)
      if (count > bestCount || (count === bestCount && best !== null && key < best)) [best, bestCount] = [key, count];
    if (best === null) break;
    const [a, b] = best.split(" ") as [string, string];
    const merged = a + b;
    merges.push(best);
    vocab.set(merged, vocab.size);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === a && w.symbols[i + 1] === b) {
          out.push(merged);
          i++;
        } else out.push(w.symbols[i] as string);
      }
      w.symbols = out;
    }
  }
  const byteLevel = (prefix: boolean, regex = true) => ({
    type: "ByteLevel",
    add_prefix_space: prefix,
    trim_offsets: true,
    use_regex: regex,
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokensJson(specials, vocab.size),
    normalizer: null,
    pre_tokenizer: byteLevel(false),
    post_processor: { ...byteLevel(false), trim_offsets: false },
    decoder: byteLevel(false),
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries([...vocab, ...specials.map((s, i) => [s, vocab.size + i] as const)]),
      merges,
    },
  };
}
