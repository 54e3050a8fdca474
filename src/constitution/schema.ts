/**
 * A constitution as data: named principles, each with the request that asks
 * a model to critique a response against it, the request to revise, and the
 * multiple-choice question an AI feedback model answers with (A) or (B);
 * optional few-shot examples; sampling settings. Identified by the hash of
 * its canonical content and by a user-facing version.
 */
import { z } from "zod";

export const principleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, "use lowercase letters, digits, _ . -"),
    critique: z.string().min(10, "a critique request needs a full sentence"),
    revision: z.string().min(10, "a revision request needs a full sentence"),
    compare: z.string().min(10, "a comparison question needs a full sentence"),
    tags: z.array(z.string().min(1)).default([]),
    weight: z.number().positive().default(1),
  })
  .strict();

const critiqueExampleSchema = z
  .object({
    prompt: z.string(),
    response: z.string(),
    critique_request: z.string(),
    critique: z.string(),
    revision_request: z.string(),
    revision: z.string(),
  })
  .strict();
const comparisonExampleSchema = z
  .object({ conversation: z.string(), question: z.string(), a: z.string(), b: z.string(), answer: z.enum(["A", "B"]) })
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

export type Principle = z.output<typeof principleSchema>;
export type Constitution = z.output<typeof constitutionSchema>;
