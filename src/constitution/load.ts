/**
 * Reading constitutions from YAML or JSON (JSON is read by the same YAML
 * parser, so both get line numbers): a validation error names the file, the
 * line and the field. Each constitution is identified by the SHA-256 of its
 * canonical JSON (keys sorted), so a stored record can say exactly which
 * text it was produced under.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { ANTHROPIC_DESCRIPTIONS, anthropicKind, importCommand } from "./anthropic-shape.js";
import { type Constitution, constitutionSchema, type Principle } from "./schema.js";

export type { Constitution, Principle };

export class ConstitutionError extends Error {}

export type LoadedConstitution = Constitution & { hash: string; source: string };

/** JSON with object keys sorted at every level: the same content always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

export function constitutionHash(constitution: Constitution): string {
  return createHash("sha256").update(canonicalJson(constitution)).digest("hex").slice(0, 16);
}

/** Validates parsed data; `locate` turns an issue's path into a line number where it can. */
export function validateConstitution(
  data: unknown,
  source: string,
  locate: (path: PropertyKey[]) => number | null = () => null,
): LoadedConstitution {
  const parsed = constitutionSchema.safeParse(data);
  // Duplicate ids are checked on the raw data too: the schema's own check runs only once every principle is valid.
  const duplicates = duplicateIds(data);
  if (!parsed.success || duplicates.length > 0) {
    const issues = [
      ...(parsed.success ? [] : parsed.error.issues.filter((issue) => !issue.message.startsWith("duplicate principle id"))),
      ...duplicates,
    ].sort((a, b) => (locate(a.path) ?? 0) - (locate(b.path) ?? 0));
    const lines = issues.map((issue) => {
      const line = locate(issue.path);
      const field = issue.path.length > 0 ? `field "${issue.path.join(".")}": ` : "";
      return `${source}${line ? `:${line}` : ""}: ${field}${describeIssue(issue)}`;
    });
    throw new ConstitutionError(lines.join("\n"));
  }
  return { ...parsed.data, hash: constitutionHash(parsed.data), source };
}

type Issue = { path: PropertyKey[]; message: string };

/** zod's "expected string, received undefined" for a field that is not there says "missing field". */
function describeIssue(issue: Issue | z.core.$ZodIssue): string {
  if ("code" in issue && issue.code === "invalid_type" && /received undefined$/.test(issue.message))
    return `missing field (expected ${(issue as { expected?: string }).expected ?? "a value"})`;
  return issue.message;
}

function duplicateIds(data: unknown): Issue[] {
  const principles = (data as { principles?: unknown } | null)?.principles;
  if (!Array.isArray(principles)) return [];
  const seen = new Map<unknown, number>();
  const issues: Issue[] = [];
  principles.forEach((p, i) => {
    const id = (p as { id?: unknown } | null)?.id;
    if (typeof id !== "string") return;
    const first = seen.get(id);
    if (first !== undefined)
      issues.push({ path: ["principles", i, "id"], message: `duplicate principle id "${id}" (first at principles.${first})` });
    else seen.set(id, i);
  });
  return issues;
}

export function parseConstitution(text: string, source: string): LoadedConstitution {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const first = doc.errors[0] as { message: string; pos: [number, number] };
    throw new ConstitutionError(`${source}:${lineCounter.linePos(first.pos[0]).line}: ${first.message.split("\n")[0]}`);
  }
  const locate = (path: PropertyKey[]): number | null => {
    // The deepest node on the path that exists: a missing field points at its parent.
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]).line;
    }
    return null;
  };
  const data = doc.toJS();
  // One of the CAI paper's files, unconverted: say how to convert it rather than list its keys.
  const kind = anthropicKind(data);
  if (kind)
    throw new ConstitutionError(
      `${source}: this is the Constitutional AI paper's ${ANTHROPIC_DESCRIPTIONS[kind]} file, not a constitution; convert it with: ${importCommand(kind, source)}`,
    );
  return validateConstitution(data, source, locate);
}

export function loadConstitution(path: string): LoadedConstitution {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new ConstitutionError(`${path}: cannot read the constitution file`);
  }
  return parseConstitution(text, path);
}
