/**
 * A constitution as data: named principles, each with the request that asks
 * a model to critique a response against it, the request to revise, and the
 * multiple-choice question an AI feedback model answers with (A) or (B);
 * optional few-shot examples; sampling settings. Identified by the hash of
 * its canonical content and by a user-facing version.
 *
 * Which stages use a principle follows from its texts: `critique` and
 * `revision` make it a critique/revision principle (`cai revise`), `compare`
 * a comparison principle (`cai label`); the CAI paper's two lists are
 * separate, so an imported principle often has only one of the two.
 *
 * Fields added after the first release are optional without defaults, so an
 * older file's canonical content, and its hash, stay the same.
 */
import { z } from "zod";
import { scaffoldingIn } from "./scaffolding.js";

const request = (what: string) =>
  z
    .string()
    .min(10, `${what} needs a full sentence`)
    .superRefine((text, ctx) => {
      const label = scaffoldingIn(text);
      if (label)
        ctx.addIssue({
          code: "custom",
          message: `${what} carries the prompt label "${label}", which Precept's prompt format adds itself: remove it (\`precept constitution import\` strips the CAI paper's labels)`,
        });
    });

export const principleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, "use lowercase letters, digits, _ . -"),
    critique: request("a critique request").optional(),
    revision: request("a revision request").optional(),
    compare: request("a comparison question").optional(),
    tags: z.array(z.string().min(1)).default([]),
    weight: z.number().positive().default(1),
    /** Tier: 1 is the highest (e.g. 1 broad safety, 2 ethics, 3 guidelines, 4 helpfulness); none ranks below every tier. */
    priority: z.number().int().positive().optional(),
    /** A hard constraint: judged on every labelled pair, and its confident verdict decides the label. */
    hard: z.boolean().optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.critique !== undefined && p.revision === undefined)
      ctx.addIssue({ code: "custom", message: "a critique request needs its revision request", path: ["revision"] });
    if (p.revision !== undefined && p.critique === undefined)
      ctx.addIssue({ code: "custom", message: "a revision request needs its critique request", path: ["critique"] });
    if (p.critique === undefined && p.revision === undefined && p.compare === undefined)
      ctx.addIssue({ code: "custom", message: "give critique and revision requests, a compare question, or all three", path: [] });
  });

/** A conversation turn of a few-shot prompt (multi-turn examples, as in the CAI paper's few-shot file). */
const turnSchema = z.object({ role: z.enum(["user", "assistant"]), content: z.string() }).strict();

const critiqueExampleSchema = z
  .object({
    /** The human's message, or the conversation so far as turns ending with the human's. */
    prompt: z.union([
      z.string(),
      z
        .array(turnSchema)
        .min(1)
        .refine((turns) => turns.at(-1)?.role === "user", "the last turn of a prompt is the user's"),
    ]),
    response: z.string(),
    critique_request: z.string(),
    critique: z.string(),
    revision_request: z.string(),
    revision: z.string(),
  })
  .strict();
const comparisonExampleSchema = z
  .object({
    conversation: z.string(),
    /** Without a question the example is shown with the question being asked (the paper's few-shot prompts have none). */
    question: z.string().optional(),
    a: z.string(),
    b: z.string(),
    answer: z.enum(["A", "B"]),
  })
  .strict();

export const constitutionSchema = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string().default(""),
    principles: z.array(principleSchema).min(1, "a constitution needs at least one principle"),
    few_shot: z
      .object({ critique_revision: z.array(critiqueExampleSchema).default([]), comparison: z.array(comparisonExampleSchema).default([]) })
      .strict()
      .default({ critique_revision: [], comparison: [] }),
    sampling: z
      .object({
        /** Critique → revision rounds per prompt (the CAI paper: 4). */
        revisions: z.number().int().positive().default(4),
        /** Principles averaged per AI comparison (1 = one sampled principle). */
        principles_per_comparison: z.number().int().positive().default(1),
        /** When an AI verdict counts as confident, max(p, 1 − p) ≥ this: a hard constraint's then decides a label (default CONFIDENCE_THRESHOLD). */
        confidence_threshold: z.number().gt(0.5).max(1).optional(),
      })
      .strict()
      .default({ revisions: 4, principles_per_comparison: 1 }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.principles.forEach((p, i) => {
      const first = seen.get(p.id);
      if (first !== undefined)
        ctx.addIssue({
          code: "custom",
          message: `duplicate principle id "${p.id}" (first at principles.${first})`,
          path: ["principles", i, "id"],
        });
      else seen.set(p.id, i);
    });
  });

/** The default of `sampling.confidence_threshold` (kept out of the schema so older files keep their hash). */
export const CONFIDENCE_THRESHOLD = 0.75;

export type Principle = z.output<typeof principleSchema>;
export type Constitution = z.output<typeof constitutionSchema>;
export type ChatTurn = z.output<typeof turnSchema>;
