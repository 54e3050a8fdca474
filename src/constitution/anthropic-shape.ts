/**
 * Recognizes the four JSON files Anthropic published with the Constitutional
 * AI paper by their shape, so `constitution import` can take a folder or
 * files in any order, and `lint` of an unconverted file can say how to
 * convert it instead of listing unknown keys.
 */

export type AnthropicKind = "critique_revision" | "multiple_choice" | "critique_few_shot" | "comparison_few_shot";

/** The paper's file names. */
export const ANTHROPIC_FILES: Record<AnthropicKind, string> = {
  critique_revision: "CritiqueRevisionInstructions.json",
  multiple_choice: "RLMadisonInstructions.json",
  critique_few_shot: "CritiqueRevisionFewShotPrompts.json",
  comparison_few_shot: "RLMadisonFewShotPrompts.json",
};

/** The `constitution import` flag for each file. */
export const IMPORT_FLAGS: Record<AnthropicKind, string> = {
  critique_revision: "--critique-revision",
  multiple_choice: "--multiple-choice",
  critique_few_shot: "--critique-few-shot",
  comparison_few_shot: "--comparison-few-shot",
};

export const ANTHROPIC_DESCRIPTIONS: Record<AnthropicKind, string> = {
  critique_revision: "critique/revision instructions",
  multiple_choice: "multiple-choice principles",
  critique_few_shot: "critique/revision few-shot transcripts",
  comparison_few_shot: "multiple-choice few-shot prompts",
};

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** Which of the paper's files parsed JSON looks like, or null. */
export function anthropicKind(data: unknown): AnthropicKind | null {
  if (Array.isArray(data) && data.length > 0) {
    if (data.every((x) => typeof x === "string"))
      return data.every((x) => /CritiqueRequest:/.test(x as string)) ? "critique_few_shot" : "multiple_choice";
    if (data.every((x) => isObject(x) && "prompt" in x && "corrects" in x && "incorrects" in x)) return "comparison_few_shot";
    return null;
  }
  if (!isObject(data) || "principles" in data || Object.keys(data).length === 0) return null;
  const values = Object.values(data);
  if (values.every((v) => isObject(v) && "edit_request" in v)) return "critique_revision";
  if (values.every((v) => typeof v === "string") && !("name" in data) && !("version" in data)) return "multiple_choice";
  return null;
}

/** The command that converts a file of the paper into a constitution (few-shot files come with their principles). */
export function importCommand(kind: AnthropicKind, path: string): string {
  const principles =
    kind === "critique_few_shot"
      ? `${IMPORT_FLAGS.critique_revision} ${ANTHROPIC_FILES.critique_revision} `
      : kind === "comparison_few_shot"
        ? `${IMPORT_FLAGS.multiple_choice} ${ANTHROPIC_FILES.multiple_choice} `
        : "";
  return `precept constitution import ${principles}${IMPORT_FLAGS[kind]} ${path} --name NAME --version VERSION --out constitution.yaml`;
}
