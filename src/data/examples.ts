/**
 * Dataset rows → token ids for the trainers, following TRL's conventions:
 * - SFT: prompt + completion (+ EOS), loss on the completion only by default
 *   (`completion_only_loss`); conversations rendered with the chat template,
 *   loss on assistant turns only by default (`assistant_only_loss`);
 * - preferences: the prompt and each completion (+ EOS) as separate ids;
 * - prompts for online RL, chat-templated with the generation prompt.
 * Chat-templated pieces are found by rendering prefixes of the conversation:
 * the tokens of a prefix must be a prefix of the tokens of the whole, or the
 * row is an error (some templates rewrite earlier turns).
 */
import type { Tokenizer } from "../models/tokenizer.js";
import type { Message, PreferenceRow, PromptRow, SftRow } from "./dataset.js";

export type LmExample = { ids: number[]; lossMask: number[] };
export type PreferenceExample = { prompt: number[]; chosen: number[]; rejected: number[]; margin?: number; label?: number };

function withEos(ids: number[], tokenizer: Tokenizer): number[] {
  const eos = tokenizer.eosTokenIds[0];
  if (eos === undefined || ids[ids.length - 1] === eos) return ids;
  return [...ids, eos];
}

function isPrefix(prefix: number[], whole: number[]): boolean {
  return prefix.length <= whole.length && prefix.every((id, i) => whole[i] === id);
}

function render(tokenizer: Tokenizer, messages: Message[], addGenerationPrompt: boolean): number[] {
  return tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt }), { addSpecialTokens: false });
}

/** Prompt ids and the ids of what follows it, for string or conversational rows. */
function split(
  tokenizer: Tokenizer,
  prompt: string | Message[],
  continuation: string | Message[],
  where: string,
): { prompt: number[]; rest: number[] } {
  if (typeof prompt === "string" && typeof continuation === "string") {
    // Tokenized together, as TRL's SFT does: a SentencePiece tokenizer would put a stray "▁" at the start of a completion encoded alone.
    const head = tokenizer.encode(prompt);
    const whole = tokenizer.encode(prompt + continuation);
    const rest = isPrefix(head, whole) ? whole.slice(head.length) : tokenizer.encode(continuation, { addSpecialTokens: false });
    return { prompt: head, rest: withEos(rest, tokenizer) };
  }
  const promptMessages = typeof prompt === "string" ? [{ role: "user", content: prompt }] : prompt;
  const continuationMessages = typeof continuation === "string" ? [{ role: "assistant", content: continuation }] : continuation;
  const head = render(tokenizer, promptMessages, true);
  const whole = render(tokenizer, [...promptMessages, ...continuationMessages], false);
  if (!isPrefix(head, whole))
    throw new Error(`${where}: the chat template's prompt does not tokenize to a prefix of the whole conversation`);
  return { prompt: head, rest: whole.slice(head.length) };
}

export function sftExample(
  row: SftRow,
  tokenizer: Tokenizer,
  {
    maxLength,
    completionOnly = true,
    assistantOnly = true,
    where = "row",
  }: { maxLength: number; completionOnly?: boolean; assistantOnly?: boolean; where?: string },
): LmExample {
  let ids: number[];
  let lossMask: number[];
  if ("messages" in row) {
    ids = render(tokenizer, row.messages, false);
    lossMask = ids.map(() => (assistantOnly ? 0 : 1));
    if (assistantOnly) {
      row.messages.forEach((message, i) => {
        if (message.role !== "assistant") return;
        const before = render(tokenizer, row.messages.slice(0, i), true);
        const through = render(tokenizer, row.messages.slice(0, i + 1), false);
        if (!isPrefix(before, through) || !isPrefix(through, ids)) {
          throw new Error(
            `${where}: the chat template does not render turn ${i} as a prefix of the conversation; set assistant_only_loss: false`,
          );
        }
        for (let t = before.length; t < through.length; t++) lossMask[t] = 1;
      });
    }
  } else if ("completion" in row) {
    const { prompt, rest } = split(tokenizer, row.prompt, row.completion, where);
    ids = [...prompt, ...rest];
    lossMask = [...prompt.map(() => (completionOnly ? 0 : 1)), ...rest.map(() => 1)];
  } else {
    ids = withEos(tokenizer.encode(row.text), tokenizer);
    lossMask = ids.map(() => 1);
  }
  return { ids: ids.slice(0, maxLength), lossMask: lossMask.slice(0, maxLength) };
}

export function preferenceExample(
  row: PreferenceRow,
  tokenizer: Tokenizer,
  { maxLength, where = "row" }: { maxLength: number; where?: string },
): PreferenceExample {
  const chosen = split(tokenizer, row.prompt, row.chosen, where);
  const rejected = split(tokenizer, row.prompt, row.rejected, where);
  // Truncate completions first; the prompt keeps its last tokens if it alone is too long.
  const prompt = chosen.prompt.slice(-Math.max(1, maxLength - 1));
  const room = Math.max(1, maxLength - prompt.length);
  return {
    prompt,
    chosen: chosen.rest.slice(0, room),
    rejected: rejected.rest.slice(0, room),
    ...(row.margin !== undefined ? { margin: row.margin } : {}),
    ...(row.label !== undefined ? { label: row.label } : {}),
  };
}

export function promptIds(row: PromptRow, tokenizer: Tokenizer): number[] {
  return typeof row.prompt === "string" ? tokenizer.encode(row.prompt) : render(tokenizer, row.prompt, true);
}

/**
 * Packing (TRL `packing=True`, the classic constant-length form): examples,
 * each ending in EOS, are concatenated and cut into rows of exactly `length`
 * tokens, so no compute goes to padding. Loss masks travel with their tokens;
 * attention crosses example boundaries, as in TRL's ConstantLengthDataset.
 * The tail shorter than `length` is kept as a last, shorter row.
 */
export function packExamples(examples: LmExample[], length: number): LmExample[] {
  const ids: number[] = [];
  const lossMask: number[] = [];
  for (const example of examples) {
    ids.push(...example.ids);
    lossMask.push(...example.lossMask);
  }
  const rows: LmExample[] = [];
  for (let start = 0; start < ids.length; start += length) {
    rows.push({ ids: ids.slice(start, start + length), lossMask: lossMask.slice(start, start + length) });
  }
  return rows;
}
