/**
 * TRL's implicit-prompt preference rows, the shape HH-RLHF is published in:
 * `{"chosen": "\n\nHuman: …\n\nAssistant: …", "rejected": "\n\nHuman: …\n\nAssistant: …"}`,
 * where the prompt is what both transcripts share. `extractPrompt` splits a
 * row into TRL's explicit `{prompt, chosen, rejected}` (TRL's `extract_prompt`),
 * and `toConversational` turns `Human:`/`Assistant:` transcripts into chat
 * messages, for models with a chat template.
 */
import type { Message } from "./dataset.js";

export const HUMAN = "\n\nHuman:";
export const ASSISTANT = "\n\nAssistant:";

export type ExplicitPreference<T> = { prompt: T; chosen: T; rejected: T };

export class ImplicitPromptError extends Error {}

/**
 * Splits two transcripts at the prompt they share.
 * - Strings: the common prefix, cut back to end with its last `"\n\nAssistant:"`,
 *   so each completion is whole assistant turns (`" I'm sorry…"`, its leading space
 *   kept, so prompt + completion is the original text). Text without
 *   `Human:`/`Assistant:` turns gets TRL's plain rule: the common prefix, less a
 *   trailing space, which goes to the completions.
 * - Message lists: the common leading messages, cut back so both completions
 *   start with an assistant message.
 * Throws `ImplicitPromptError` when nothing is shared.
 */
export function extractPrompt(chosen: string, rejected: string): ExplicitPreference<string>;
export function extractPrompt(chosen: Message[], rejected: Message[]): ExplicitPreference<Message[]>;
export function extractPrompt(chosen: string | Message[], rejected: string | Message[]): ExplicitPreference<string | Message[]>;
export function extractPrompt(chosen: string | Message[], rejected: string | Message[]): ExplicitPreference<string | Message[]> {
  if (typeof chosen === "string" && typeof rejected === "string") return splitText(chosen, rejected);
  if (Array.isArray(chosen) && Array.isArray(rejected)) return splitMessages(chosen, rejected);
  throw new ImplicitPromptError("chosen and rejected must both be transcripts (strings) or both message lists");
}

function splitText(chosen: string, rejected: string): ExplicitPreference<string> {
  const limit = Math.min(chosen.length, rejected.length);
  let shared = 0;
  while (shared < limit && chosen[shared] === rejected[shared]) shared++;
  let end: number;
  if (chosen.includes(ASSISTANT) || rejected.includes(ASSISTANT)) {
    const last = chosen.lastIndexOf(ASSISTANT, shared - ASSISTANT.length);
    if (last < 0 || shared < ASSISTANT.length) {
      throw new ImplicitPromptError(
        `chosen and rejected share no prompt: they differ at character ${shared}, before any "\\n\\nAssistant:" turn they have in common`,
      );
    }
    end = last + ASSISTANT.length;
  } else {
    end = shared > 0 && chosen[shared - 1] === " " ? shared - 1 : shared;
    if (end === 0) throw new ImplicitPromptError("chosen and rejected share no prompt: they differ from their first character");
  }
  return { prompt: chosen.slice(0, end), chosen: chosen.slice(end), rejected: rejected.slice(end) };
}

function sameMessage(a: Message, b: Message): boolean {
  return a.role === b.role && a.content === b.content;
}

function splitMessages(chosen: Message[], rejected: Message[]): ExplicitPreference<Message[]> {
  const limit = Math.min(chosen.length, rejected.length);
  let shared = 0;
  while (shared < limit && sameMessage(chosen[shared] as Message, rejected[shared] as Message)) shared++;
  let end = shared;
  while (end > 0 && !(chosen[end]?.role === "assistant" && rejected[end]?.role === "assistant")) end--;
  if (end === 0) {
    throw new ImplicitPromptError(
      shared === 0
        ? "chosen and rejected share no prompt: their first messages differ"
        : `chosen and rejected share no prompt: no assistant message starts both completions after their ${shared} common message(s)`,
    );
  }
  return { prompt: chosen.slice(0, end), chosen: chosen.slice(end), rejected: rejected.slice(end) };
}

/**
 * The turns of a `Human:`/`Assistant:` transcript as messages (`user`, `assistant`),
 * contents trimmed. Text before the first marker is a turn of `leadingRole`
 * (a completion starts inside an assistant turn), or, without one, must be blank.
 */
export function transcriptMessages(text: string, leadingRole?: "user" | "assistant"): Message[] {
  const parts = text.split(/\n\n(Human|Assistant):/);
  const messages: Message[] = [];
  const leading = parts[0] ?? "";
  if (leadingRole) messages.push({ role: leadingRole, content: leading.trim() });
  else if (leading.trim() !== "") {
    throw new ImplicitPromptError(
      `not a Human:/Assistant: transcript: it starts with ${JSON.stringify(leading.slice(0, 40))}, not "\\n\\nHuman:"`,
    );
  }
  for (let i = 1; i < parts.length; i += 2) {
    messages.push({ role: parts[i] === "Human" ? "user" : "assistant", content: (parts[i + 1] ?? "").trim() });
  }
  return messages;
}

/**
 * A split string row as conversational TRL rows: the prompt's turns (its final
 * `"\n\nAssistant:"`, the generation prompt, left to the chat template) and each
 * completion's turns. Rows whose prompt is already messages are returned as they are.
 */
export function toConversational<R extends ExplicitPreference<string | Message[]>>(
  row: R,
): Omit<R, "prompt" | "chosen" | "rejected"> & ExplicitPreference<Message[]> {
  const { prompt, chosen, rejected, ...rest } = row;
  if (typeof prompt !== "string") return row as never;
  if (!prompt.endsWith(ASSISTANT)) {
    throw new ImplicitPromptError('the prompt does not end with "\\n\\nAssistant:", so it is not a Human:/Assistant: transcript');
  }
  const turns = transcriptMessages(prompt.slice(0, -ASSISTANT.length));
  if (turns.length === 0) throw new ImplicitPromptError("the prompt has no Human: turn");
  const completion = (text: string | Message[]) => (typeof text === "string" ? transcriptMessages(text, "assistant") : text);
  return { ...rest, prompt: turns, chosen: completion(chosen), rejected: completion(rejected) };
}
