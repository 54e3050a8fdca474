/**
 * Which principles a pipeline stage may use: critique/revision principles
 * (both requests) for `cai revise`, comparison principles (a compare
 * question) for `cai label`. Sampling draws only from the fitting ones.
 */
import type { Principle } from "./schema.js";

export type Stage = "critique_revision" | "comparison";

export function usesStage(p: Principle, stage: Stage): boolean {
  return stage === "comparison" ? p.compare !== undefined : p.critique !== undefined && p.revision !== undefined;
}

export function stagesOf(p: Principle): Stage[] {
  return (["critique_revision", "comparison"] as const).filter((s) => usesStage(p, s));
}

/** The principles that fit a stage, in file order; an error names the constitution when none do. */
export function principlesFor(c: { name: string; principles: readonly Principle[] }, stage: Stage): Principle[] {
  const fitting = c.principles.filter((p) => usesStage(p, stage));
  if (fitting.length === 0)
    throw new Error(
      `constitution "${c.name}" has no ${stage === "comparison" ? "comparison principle (compare question)" : "critique/revision principle (critique and revision requests)"}`,
    );
  return fitting;
}

/** A principle's text for a stage; an error names the principle when it lacks it. */
export function principleText(p: Principle, field: "critique" | "revision" | "compare"): string {
  const text = p[field];
  if (text === undefined)
    throw new Error(
      `principle "${p.id}" has no ${field} ${field === "compare" ? "question" : "request"} (it is used for ${stagesOf(p).join(", ")} only)`,
    );
  return text;
}
