/**
 * Importers for the JSON shapes Anthropic published with the Constitutional
 * AI paper, so users can load those files (they bring them; Precept ships
 * none of that text):
 * - critique/revision instructions: `{ "<name>": { "prompt": ["<critique request>", ...], "edit_request": "<revision request>" }, ... }`;
 * - multiple-choice principles: a list of question strings (or `{ "<name>": "<question>" }`).
 * Principles are paired by position; a missing half gets a neutral stand-in
 * built from the other half, and the result is an ordinary constitution.
 */
import { readFileSync } from "node:fs";
import { ConstitutionError, type LoadedConstitution, validateConstitution } from "./load.js";

type CritiqueRevision = Record<string, { prompt: string[] | string; edit_request: string }>;

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConstitutionError(`${path}: ${(error as Error).message}`);
  }
}

function checkCritiqueRevision(data: unknown, path: string): CritiqueRevision {
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw new ConstitutionError(`${path}: expected an object of named critique/revision instructions`);
  for (const [name, entry] of Object.entries(data)) {
    const e = entry as { prompt?: unknown; edit_request?: unknown };
    const prompts = Array.isArray(e.prompt) ? e.prompt : [e.prompt];
    if (!prompts.length || !prompts.every((p) => typeof p === "string"))
      throw new ConstitutionError(`${path}: field "${name}.prompt": expected a critique request string or a list of them`);
    if (typeof e.edit_request !== "string")
      throw new ConstitutionError(`${path}: field "${name}.edit_request": expected the revision request string`);
  }
  return data as CritiqueRevision;
}

function checkMultipleChoice(data: unknown, path: string): [string, string][] {
  if (Array.isArray(data) && data.every((q) => typeof q === "string")) return data.map((q, i) => [`mc${i}`, q]);
  if (data && typeof data === "object" && Object.values(data).every((q) => typeof q === "string"))
    return Object.entries(data as Record<string, string>);
  throw new ConstitutionError(`${path}: expected a list of multiple-choice question strings (or an object of them)`);
}

export function importAnthropic(options: {
  critiqueRevision?: string;
  multipleChoice?: string;
  name?: string;
  version?: string;
}): LoadedConstitution {
  const cr = options.critiqueRevision
    ? Object.entries(checkCritiqueRevision(readJson(options.critiqueRevision), options.critiqueRevision))
    : [];
  const mc = options.multipleChoice ? checkMultipleChoice(readJson(options.multipleChoice), options.multipleChoice) : [];
  const count = Math.max(cr.length, mc.length);
  if (count === 0) throw new ConstitutionError("importAnthropic: give a critique/revision file, a multiple-choice file, or both");
  const slug = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "p";
  const principles = Array.from({ length: count }, (_, i) => {
    const [crName, crEntry] = cr.length ? (cr[i % cr.length] as [string, CritiqueRevision[string]]) : [null, null];
    const [mcName, question] = mc.length ? (mc[i % mc.length] as [string, string]) : [null, null];
    const critique = crEntry
      ? ((Array.isArray(crEntry.prompt) ? crEntry.prompt[0] : crEntry.prompt) as string)
      : `Identify ways in which the last response does not follow this principle: ${question}`;
    const revision = crEntry ? crEntry.edit_request : `Rewrite the response so that it follows this principle: ${question}`;
    const compare = question ?? `Which of these responses better satisfies this request: ${crEntry?.edit_request}`;
    return { id: slug(`${crName ?? mcName}-${i}`), critique, revision, compare, tags: ["imported"], weight: 1 };
  });
  const source = [options.critiqueRevision, options.multipleChoice].filter(Boolean).join(" + ");
  return validateConstitution(
    { name: options.name ?? "imported", version: options.version ?? "imported", description: `Imported from ${source}`, principles },
    source,
  );
}
