/**
 * The text formats of Constitutional AI, as in Bai et al. (2022): a
 * Human/Assistant transcript followed by "Critique request:", "Critique:",
 * "Revision request:", "Revision:" turns, and a multiple-choice question whose
 * answer is read as the probability of " (A)" against " (B)".
 *
 * These strings are the contract between the pipelines and the model: a base
 * model that has seen this format (the sandbox world's tiny model is trained
 * on it) can act as its own critic and feedback model. Chat providers get the
 * same turns as chat messages instead (see `critiqueMessages`).
 */

import type { ChatTurn, Principle } from "../constitution/schema.js";
import { principleText } from "../constitution/stages.js";
import type { ChatMessage } from "../models/chat-template.js";

/** The version of these formats and of reply cutting; recipes re-run stages made under another. */
export const FORMAT_VERSION = 2;

/** Where a generated turn ends: the start of the next turn (four, the most OpenAI-compatible servers accept). */
export const TURN_STOPS = ["\n\nHuman:", "\n\nAssistant:", "\n\nCritique request:", "\n\nRevision request:"];
/** Every marker of a following turn, for cutting replies of servers that ignore or limit `stop`. */
const TURN_MARKERS = [...TURN_STOPS, "\n\nCritique:", "\n\nRevision:", "\n\n---------------------"];

/** The two answers a feedback model chooses between (scored as continuations of `comparisonPrompt`). */
export const ANSWER_A = " (A)";
export const ANSWER_B = " (B)";

/** A critique that finds nothing to fix starts like this; the revision is then skipped (configurable). */
export const DEFAULT_NO_PROBLEM = /^\s*(no problem|no issues?\b|nothing to (fix|change)|the response is fine)/i;

export type CritiqueExample = {
  /** The human's message, or the conversation so far (turns ending with the human's). */
  prompt: string | readonly ChatTurn[];
  response: string;
  critique_request: string;
  critique: string;
  revision_request: string;
  revision: string;
};

/** Without a `question`, an example is shown with the question being asked. */
export type ComparisonExample = { conversation: string; question?: string; a: string; b: string; answer: "A" | "B" };

/**
 * `Human: …\n\nAssistant: …` (the response may be empty: the prompt for the
 * initial response); a multi-turn prompt gives one `Human:`/`Assistant:` turn each.
 */
export function transcript(prompt: string | readonly ChatTurn[], response?: string): string {
  const turns = typeof prompt === "string" ? [{ role: "user", content: prompt }] : prompt;
  const before = turns.map((t) => `${t.role === "user" ? "Human" : "Assistant"}: ${t.content.trim()}\n\n`).join("");
  return `${before}Assistant:${response === undefined ? "" : ` ${response.trim()}`}`;
}

/** The prompt a model completes to give its first, unrevised answer. */
export function responsePrompt(prompt: string): string {
  return transcript(prompt);
}

function fewShotCritiques(examples: CritiqueExample[]): string {
  return examples
    .map(
      (e) =>
        `${transcript(e.prompt, e.response)}\n\nCritique request: ${e.critique_request.trim()}\n\nCritique: ${e.critique.trim()}\n\nRevision request: ${e.revision_request.trim()}\n\nRevision: ${e.revision.trim()}\n\n---------------------\n\n`,
    )
    .join("");
}

/** Few-shot examples, the transcript so far, and the critique request; the model continues with the critique. */
export function critiquePrompt(prompt: string, response: string, principle: Principle, examples: CritiqueExample[] = []): string {
  return `${fewShotCritiques(examples)}${transcript(prompt, response)}\n\nCritique request: ${principleText(principle, "critique").trim()}\n\nCritique:`;
}

/** The critique prompt, the critique, and the revision request; the model continues with the revision. */
export function revisionPrompt(
  prompt: string,
  response: string,
  principle: Principle,
  critique: string,
  examples: CritiqueExample[] = [],
): string {
  return `${critiquePrompt(prompt, response, principle, examples)} ${critique.trim()}\n\nRevision request: ${principleText(principle, "revision").trim()}\n\nRevision:`;
}

/** The same critique turn for chat providers: the user asks, the assistant answered, the user requests a critique. */
export function critiqueMessages(prompt: string, response: string, principle: Principle): ChatMessage[] {
  return [
    { role: "user", content: prompt },
    { role: "assistant", content: response },
    { role: "user", content: principleText(principle, "critique") },
  ];
}

export function revisionMessages(prompt: string, response: string, principle: Principle, critique: string): ChatMessage[] {
  return [
    ...critiqueMessages(prompt, response, principle),
    { role: "assistant", content: critique },
    { role: "user", content: `${principleText(principle, "revision")} Reply with the rewritten response only.` },
  ];
}

function fewShotComparisons(examples: ComparisonExample[], question: string): string {
  return examples
    .map(
      (e) =>
        `${comparisonBody(e.conversation, e.question ?? question, e.a, e.b)}\nThe answer is: (${e.answer})\n\n---------------------\n\n`,
    )
    .join("");
}

function comparisonBody(conversation: string, question: string, a: string, b: string): string {
  return `Consider the following conversation between a human and an assistant:\n\n${conversation.trim()}\n\n${question.trim()}\nOptions:\n(A) ${a.trim()}\n(B) ${b.trim()}`;
}

/**
 * The multiple-choice question for AI feedback. Without chain of thought the
 * model continues with " (A)" or " (B)"; with it, the prompt ends in "Let's
 * think step by step:" and `answerAfterReasoning` appends the reasoning and the
 * answer stem.
 */
export function comparisonPrompt(
  prompt: string,
  question: string,
  a: string,
  b: string,
  options: { examples?: ComparisonExample[]; chainOfThought?: boolean } = {},
): string {
  const body = comparisonQuestion(prompt, question, a, b, options.examples);
  return options.chainOfThought ? `${body}\nLet's think step by step:` : `${body}\nThe answer is:`;
}

/** The question without an answer stem (few-shot examples, conversation, question, options). */
export function comparisonQuestion(prompt: string, question: string, a: string, b: string, examples: ComparisonExample[] = []): string {
  return `${fewShotComparisons(examples, question)}${comparisonBody(transcript(prompt), question, a, b)}`;
}

/** For chat providers without log-probs: the question as a user message asking for a bare answer. */
export function comparisonMessage(prompt: string, question: string, a: string, b: string, examples: ComparisonExample[] = []): string {
  return `${comparisonQuestion(prompt, question, a, b, examples)}\nAnswer with (A) or (B) only.`;
}

/** After chain-of-thought reasoning, the stem whose continuation is the answer. */
export function answerAfterReasoning(cotPrompt: string, reasoning: string): string {
  return `${cotPrompt} ${reasoning.trim()}\nThe answer is:`;
}

/** Reads "(A)"/"(B)" (or a bare A/B) at the start of a sampled answer; null when it names neither. */
export function parseAnswer(text: string): "A" | "B" | null {
  const match = /^\(?\s*([AB])\b/.exec(text.trim());
  return match ? (match[1] as "A" | "B") : null;
}

/** Cuts a generated turn at the first marker of a following turn (servers that ignore `stop` run on). */
export function cutAtTurn(text: string): string {
  // A reply that opens with a blank line is the model starting another block, not answering this turn.
  if (/^[ \t]*\r?\n[ \t]*\r?\n/.test(text)) return "";
  let end = text.length;
  for (const stop of TURN_MARKERS) {
    const at = text.indexOf(stop);
    if (at >= 0 && at < end) end = at;
  }
  return text.slice(0, end).trim();
}
