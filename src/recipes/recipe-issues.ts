/**
 * A recipe's validation errors as one line naming each field, with "did you mean `X`?" where an unknown
 * key is close to one the section has (a typo like `max_tokenz` in revise:).
 */
import type { z } from "zod";
import { closestKey } from "./closest-key.js";

/** zod's own wording (`Unrecognized key: "a"`, `Unrecognized keys: "a", "b"`), with the closest known key of each. */
export function unrecognizedKeys(keys: string[], known: readonly string[]): string {
  const listed = `Unrecognized key${keys.length > 1 ? "s" : ""}: ${keys.map((k) => JSON.stringify(k)).join(", ")}`;
  const hints = keys.flatMap((key) => {
    const closest = closestKey(key, known);
    if (!closest) return [];
    return [keys.length > 1 ? `${JSON.stringify(key)}: did you mean \`${closest}\`?` : `did you mean \`${closest}\`?`];
  });
  return hints.length > 0 ? `${listed} (${hints.join("; ")})` : listed;
}

type Walkable = { def?: { innerType?: Walkable; in?: Walkable }; shape?: Record<string, Walkable> };

/** The object schema under default/optional/nullable/pipe wrappers, if there is one. */
function unwrap(schema: Walkable | undefined): Walkable | undefined {
  let s = schema;
  while (s && !s.shape && (s.def?.innerType || s.def?.in)) s = s.def.innerType ?? s.def.in;
  return s;
}

/** The keys of the object that `path` leads to in `schema` (none where it is not an object). */
export function keysAt(schema: z.ZodType, path: PropertyKey[]): string[] {
  let s = unwrap(schema as unknown as Walkable);
  for (const segment of path) s = unwrap(s?.shape?.[String(segment)]);
  return s?.shape ? Object.keys(s.shape) : [];
}

/** Each issue as `field "a.b": message`, joined by "; " (as train/config.ts's formatIssues), unknown keys with their closest known key. */
export function formatRecipeIssues(error: z.ZodError, schema: z.ZodType): string {
  return error.issues
    .map((issue) => {
      const message = issue.code === "unrecognized_keys" ? unrecognizedKeys(issue.keys, keysAt(schema, issue.path)) : issue.message;
      return `field "${issue.path.join(".") || "(root)"}": ${message}`;
    })
    .join("; ");
}
