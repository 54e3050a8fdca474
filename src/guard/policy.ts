/**
 * The guard's policy: which of the constitution's principles are screened, on the input, the output
 * or both, with which mode (`block`, `revise`, `flag`), by which patterns (regular expressions that
 * also redact stored text) and at which score threshold; the refusal clients see (it never quotes a
 * rule); the streaming window. A YAML or JSON file beside the constitution, so the constitution (and
 * its hash) stays what training used. A mistake names the file, the line and the field.
 */
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import type { LoadedConstitution } from "../constitution/load.js";
import type { Principle } from "../constitution/schema.js";

export const MODES = ["block", "revise", "flag"] as const;
export type Mode = (typeof MODES)[number];
export type Stage = "input" | "output";

const pattern = z.string().superRefine((source, ctx) => {
  try {
    new RegExp(source, "iu");
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `not a regular expression: ${(err as Error).message}` });
  }
});

const principlePolicySchema = z
  .object({
    mode: z.enum(MODES).optional(),
    /** Where this principle is screened (default: both). */
    stages: z
      .array(z.enum(["input", "output"]))
      .min(1)
      .default(["input", "output"]),
    /** A match scores 1: a violation whatever the judge says. */
    patterns: z.array(pattern).default([]),
    /** A score at or above this is a violation (judge scores are probabilities). */
    threshold: z.number().gt(0).max(1).default(0.5),
  })
  .strict();

export const policySchema = z
  .object({
    /** The mode of every principle that does not set its own. */
    mode: z.enum(MODES).default("block"),
    /** Screened principles by id (default: all of the constitution's, in the default mode, judged only). */
    principles: z.record(z.string(), principlePolicySchema).default({}),
    refusal: z.string().min(1).default("I can't help with that request."),
    /** Characters of a streamed reply held back until the text up to them has been screened. */
    window: z.number().int().min(0).max(4096).default(48),
    /** Critique → revision rounds in `revise` mode before the reply is blocked. */
    revise_rounds: z.number().int().min(1).max(8).default(2),
  })
  .strict();

export type PolicyFile = z.output<typeof policySchema>;

/** One screened principle with everything the guard needs to screen it. */
export type ScreenedPrinciple = {
  principle: Principle;
  mode: Mode;
  stages: Stage[];
  patterns: RegExp[];
  threshold: number;
};

export type GuardPolicy = {
  constitution: LoadedConstitution;
  principles: ScreenedPrinciple[];
  refusal: string;
  window: number;
  reviseRounds: number;
  /** Every pattern of every principle: what `--store-text redacted` hides. */
  redactions: RegExp[];
};

export class PolicyError extends Error {}

/** The policy of a file (or the defaults without one) over a constitution; `mode` overrides the file's default mode. */
export function buildPolicy(constitution: LoadedConstitution, file: PolicyFile, source = "the guard policy", mode?: Mode): GuardPolicy {
  const byId = new Map(constitution.principles.map((p) => [p.id, p]));
  for (const id of Object.keys(file.principles))
    if (!byId.has(id))
      throw new PolicyError(
        `${source}: field "principles.${id}": the constitution ${constitution.source} has no principle "${id}" (it has ${[...byId.keys()].join(", ")})`,
      );
  const ids = Object.keys(file.principles).length > 0 ? Object.keys(file.principles) : [...byId.keys()];
  const principles = ids.map((id): ScreenedPrinciple => {
    const p = file.principles[id] ?? principlePolicySchema.parse({});
    return {
      principle: byId.get(id) as Principle,
      mode: p.mode ?? mode ?? file.mode,
      stages: p.stages,
      patterns: p.patterns.map((s) => new RegExp(s, "iu")),
      threshold: p.threshold,
    };
  });
  return {
    constitution,
    principles,
    refusal: file.refusal,
    window: file.window,
    reviseRounds: file.revise_rounds,
    redactions: principles.flatMap((p) => p.patterns),
  };
}

/** Reads a policy file (YAML or JSON); errors name the file, line and field. */
export function loadPolicy(path: string, constitution: LoadedConstitution, mode?: Mode): GuardPolicy {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new PolicyError(`${path}: cannot read the guard policy file (check --policy)`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const first = doc.errors[0] as { message: string; pos: [number, number] };
    throw new PolicyError(`${path}:${lines.linePos(first.pos[0]).line}: ${first.message.split("\n")[0]}`);
  }
  const parsed = policySchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    let line: number | null = null;
    for (let depth = issue.path.length; depth >= 0 && line === null; depth--) {
      const node = doc.getIn(issue.path.slice(0, depth) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
      if (node?.range) line = lines.linePos(node.range[0]).line;
    }
    const field = issue.path.length > 0 ? `field "${issue.path.join(".")}": ` : "";
    throw new PolicyError(`${path}${line ? `:${line}` : ""}: ${field}${issue.message}`);
  }
  return buildPolicy(constitution, parsed.data, path, mode);
}

/** Replaces every match of the policy's patterns with `[redacted]`. */
export function redact(text: string, patterns: readonly RegExp[]): string {
  let out = text;
  for (const p of patterns) out = out.replace(new RegExp(p.source, `${p.flags.replace("g", "")}g`), "[redacted]");
  return out;
}
