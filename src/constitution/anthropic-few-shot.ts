/**
 * The CAI paper's few-shot files as a constitution's examples:
 * - critique/revision transcripts: one string each, `Human:`/`Assistant:`
 *   turns, then `CritiqueRequest:`, `Critique:`, `RevisionRequest:`,
 *   `Revision:` (and a trailing empty `Human:` that opens the next example);
 * - multiple-choice prompts: `{prompt, corrects, incorrects}`, with no
 *   question (the question asked is shown with them when rendered).
 */
import { ConstitutionError } from "./load.js";
import { stripScaffolding } from "./scaffolding.js";
import type { ChatTurn, Constitution } from "./schema.js";

type CritiqueExample = Constitution["few_shot"]["critique_revision"][number];
type ComparisonExample = Constitution["few_shot"]["comparison"][number];

const LABELS = /\n\n(Human|Assistant|CritiqueRequest|Critique|RevisionRequest|Revision):/;
const TAIL = ["CritiqueRequest", "Critique", "RevisionRequest", "Revision"];

/** One transcript; `where` (file and item) starts every error. */
export function parseCritiqueTranscript(text: string, where: string): CritiqueExample {
  const parts = `\n\n${text.replace(/^\s+/, "")}`.split(LABELS);
  // split gives ["", label, content, label, content, …]
  const turns: { label: string; content: string }[] = [];
  for (let i = 1; i < parts.length; i += 2) turns.push({ label: parts[i] as string, content: (parts[i + 1] ?? "").trim() });
  if (turns.at(-1)?.label === "Human" && turns.at(-1)?.content === "") turns.pop();
  const labels = turns.map((t) => t.label);
  const tail = labels.slice(-4);
  const dialogue = turns.slice(0, -4);
  const alternates = dialogue.every((t, i) => t.label === (i % 2 === 0 ? "Human" : "Assistant"));
  if (tail.join() !== TAIL.join() || dialogue.length < 2 || dialogue.length % 2 !== 0 || !alternates)
    throw new ConstitutionError(
      `${where}: expected Human/Assistant turns, then CritiqueRequest, Critique, RevisionRequest, Revision; found ${labels.join(", ") || "no turn labels"}`,
    );
  const text_ = (label: string) => (turns.find((t, i) => i >= dialogue.length && t.label === label) as { content: string }).content;
  const promptTurns: ChatTurn[] = dialogue
    .slice(0, -1)
    .map((t) => ({ role: t.label === "Human" ? "user" : "assistant", content: t.content }));
  return {
    prompt: promptTurns.length === 1 ? (promptTurns[0] as ChatTurn).content : promptTurns,
    response: (dialogue.at(-1) as { content: string }).content,
    critique_request: stripScaffolding(text_("CritiqueRequest")),
    critique: text_("Critique"),
    revision_request: stripScaffolding(text_("RevisionRequest")),
    revision: text_("Revision"),
  };
}

export function parseCritiqueFewShot(data: unknown, path: string): CritiqueExample[] {
  if (!Array.isArray(data) || !data.every((x) => typeof x === "string"))
    throw new ConstitutionError(`${path}: expected a list of critique/revision transcripts (strings)`);
  return data.map((text, i) => parseCritiqueTranscript(text, `${path}: item ${i}`));
}

/**
 * Every (correct, incorrect) pair of every prompt, the correct response shown
 * as (A) and as (B) in turn, so the examples teach no position.
 */
export function parseComparisonFewShot(data: unknown, path: string): ComparisonExample[] {
  if (!Array.isArray(data)) throw new ConstitutionError(`${path}: expected a list of {prompt, corrects, incorrects} objects`);
  const examples: ComparisonExample[] = [];
  data.forEach((row, i) => {
    const r = row as { prompt?: unknown; corrects?: unknown; incorrects?: unknown };
    const strings = (x: unknown) => Array.isArray(x) && x.length > 0 && x.every((s) => typeof s === "string");
    if (typeof r.prompt !== "string" || !/Human:/.test(r.prompt))
      throw new ConstitutionError(`${path}: item ${i}: field "prompt": expected a "Human: …\\n\\nAssistant:" transcript`);
    if (!strings(r.corrects)) throw new ConstitutionError(`${path}: item ${i}: field "corrects": expected a list of responses`);
    if (!strings(r.incorrects)) throw new ConstitutionError(`${path}: item ${i}: field "incorrects": expected a list of responses`);
    for (const good of r.corrects as string[])
      for (const bad of r.incorrects as string[]) {
        const correctFirst = examples.length % 2 === 0;
        examples.push({
          conversation: (r.prompt as string).trim(),
          a: (correctFirst ? good : bad).trim(),
          b: (correctFirst ? bad : good).trim(),
          answer: correctFirst ? "A" : "B",
        });
      }
  });
  return examples;
}
