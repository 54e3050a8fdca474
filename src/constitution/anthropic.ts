/**
 * Imports the JSON files Anthropic published with the Constitutional AI
 * paper (users bring them; Precept ships none of that text) into ONE
 * constitution:
 * - critique/revision instructions, `{ "<name>": { "prompt": ["<critique request>", …], "edit_request": "<revision request>" } }`:
 *   critique/revision principles;
 * - multiple-choice principles, a list of questions (or `{ "<name>": "<question>" }`): comparison principles;
 * - critique/revision few-shot transcripts and multiple-choice few-shot
 *   prompts: the constitution's few-shot examples.
 * The two principle lists are independent in the paper, so they stay
 * separate principles, each with its own text. The paper's turn labels are
 * stripped (Precept's prompt format adds them).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { parseComparisonFewShot, parseCritiqueFewShot } from "./anthropic-few-shot.js";
import { ANTHROPIC_DESCRIPTIONS, ANTHROPIC_FILES, type AnthropicKind, anthropicKind } from "./anthropic-shape.js";
import { ConstitutionError, type LoadedConstitution, validateConstitution } from "./load.js";
import { stripScaffolding } from "./scaffolding.js";

export type AnthropicFiles = {
  critiqueRevision?: string;
  multipleChoice?: string;
  critiqueFewShot?: string;
  comparisonFewShot?: string;
};

const OPTION: Record<AnthropicKind, keyof AnthropicFiles> = {
  critique_revision: "critiqueRevision",
  multiple_choice: "multipleChoice",
  critique_few_shot: "critiqueFewShot",
  comparison_few_shot: "comparisonFewShot",
};

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConstitutionError(`${path}: ${(error as Error).message}`);
  }
}

/** Sorts folders (the paper's file names) and files (recognized by shape) into the four inputs. */
export function findAnthropicFiles(paths: string[]): AnthropicFiles {
  const found: AnthropicFiles = {};
  const put = (kind: AnthropicKind, path: string) => {
    const key = OPTION[kind];
    if (found[key]) throw new ConstitutionError(`${path}: a second ${ANTHROPIC_DESCRIPTIONS[kind]} file (the first: ${found[key]})`);
    found[key] = path;
  };
  for (const path of paths) {
    if (!existsSync(path)) throw new ConstitutionError(`${path}: no such file or folder`);
    if (statSync(path).isDirectory()) {
      const inside = (Object.keys(ANTHROPIC_FILES) as AnthropicKind[]).filter((k) => existsSync(join(path, ANTHROPIC_FILES[k])));
      if (inside.length === 0)
        throw new ConstitutionError(`${path}: none of the CAI paper's files (${Object.values(ANTHROPIC_FILES).join(", ")})`);
      for (const kind of inside) put(kind, join(path, ANTHROPIC_FILES[kind]));
    } else {
      const kind = anthropicKind(readJson(path));
      if (!kind)
        throw new ConstitutionError(
          `${path}: not one of the CAI paper's file shapes (${Object.values(ANTHROPIC_DESCRIPTIONS).join(", ")})`,
        );
      put(kind, path);
    }
  }
  return found;
}

type Instructions = [string, { prompts: string[]; edit: string }][];

function checkCritiqueRevision(data: unknown, path: string): Instructions {
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw new ConstitutionError(`${path}: expected an object of named critique/revision instructions`);
  return Object.entries(data).map(([name, entry]) => {
    const e = (entry ?? {}) as { prompt?: unknown; edit_request?: unknown };
    const prompts = Array.isArray(e.prompt) ? e.prompt : [e.prompt];
    if (!prompts.length || !prompts.every((p) => typeof p === "string"))
      throw new ConstitutionError(`${path}: field "${name}.prompt": expected a critique request string or a list of them`);
    if (typeof e.edit_request !== "string")
      throw new ConstitutionError(`${path}: field "${name}.edit_request": expected the revision request string`);
    return [name, { prompts: prompts as string[], edit: e.edit_request }];
  });
}

function checkMultipleChoice(data: unknown, path: string): [string, string][] {
  if (Array.isArray(data) && data.every((q) => typeof q === "string")) return data.map((q, i) => [`choice${i}`, q]);
  if (data && typeof data === "object" && Object.values(data).every((q) => typeof q === "string"))
    return Object.entries(data as Record<string, string>);
  throw new ConstitutionError(`${path}: expected a list of multiple-choice question strings (or an object of them)`);
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+|-+$/g, "") || "p";

export function importAnthropic(options: AnthropicFiles & { name: string; version: string; description?: string }): LoadedConstitution {
  const given = (Object.keys(OPTION) as AnthropicKind[]).filter((k) => options[OPTION[k]]);
  if (!options.critiqueRevision && !options.multipleChoice)
    throw new ConstitutionError("constitution import: give the critique/revision instructions, the multiple-choice principles, or both");
  const ids = new Set<string>();
  const unique = (id: string) => {
    let out = id;
    for (let n = 2; ids.has(out); n++) out = `${id}-${n}`;
    ids.add(out);
    return out;
  };
  const principles: Record<string, unknown>[] = [];
  if (options.critiqueRevision) {
    for (const [name, { prompts, edit }] of checkCritiqueRevision(readJson(options.critiqueRevision), options.critiqueRevision)) {
      // Several critique requests for one revision request: one principle each, together weighing as one.
      prompts.forEach((prompt, j) => {
        principles.push({
          id: unique(prompts.length > 1 ? `${slug(name)}-${j}` : slug(name)),
          critique: stripScaffolding(prompt),
          revision: stripScaffolding(edit),
          ...(prompts.length > 1 ? { weight: 1 / prompts.length } : {}),
        });
      });
    }
  }
  if (options.multipleChoice)
    for (const [name, question] of checkMultipleChoice(readJson(options.multipleChoice), options.multipleChoice))
      principles.push({ id: unique(slug(name)), compare: stripScaffolding(question) });
  const few_shot = {
    critique_revision: options.critiqueFewShot ? parseCritiqueFewShot(readJson(options.critiqueFewShot), options.critiqueFewShot) : [],
    comparison: options.comparisonFewShot ? parseComparisonFewShot(readJson(options.comparisonFewShot), options.comparisonFewShot) : [],
  };
  const paths = given.map((k) => options[OPTION[k]] as string);
  // File names only: the same files give the same hash wherever they are.
  const description =
    options.description ?? `Imported from the Constitutional AI paper's files: ${paths.map((p) => basename(p)).join(", ")}`;
  return validateConstitution({ name: options.name, version: options.version, description, principles, few_shot }, paths.join(" + "));
}
