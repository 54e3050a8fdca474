/**
 * One zod schema per CAI pipeline, the single definition of its settings:
 * `runRevise`/`runLabel` parse their options with it (the library defaults),
 * `precept cai revise|label` make their flags and --help from it, and the
 * recipe's `revise:`/`label:` sections are validated by it. A setting is
 * named in camelCase in code, kebab-case as a flag (`--max-tokens`) and
 * snake_case in a recipe (`max_tokens`); `names` lists the few exceptions.
 */
import { z } from "zod";

/** Settings of how the work items are worked through, shared by both pipelines. */
const workSettings = {
  concurrency: z
    .number()
    .int()
    .min(1)
    .default(8)
    .describe("items in flight at once, ≥ 1 (a local model decodes them as one batch)")
    .meta({ arg: "n" }),
  lease: z
    .number()
    .positive()
    .default(600)
    .describe("how long a claimed item stays with this process before others may take it")
    .meta({ arg: "seconds" }),
  retries: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      "retries of a failed model request (HTTP providers; default 5) and extra tries of a failed item in this invocation (default 1; then it is left pending); 0: no retries",
    )
    .meta({ arg: "n" }),
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .default(5)
    .describe("attempts over all invocations before an item is marked failed")
    .meta({ arg: "n" }),
  seed: z.number().int().default(0).describe("seed for principle sampling and generation").meta({ arg: "n" }),
  mode: z
    .enum(["completion", "chat"])
    .default("completion")
    .describe("completion: Human/Assistant transcripts (base models, vLLM, precept serve); chat: chat messages")
    .meta({ arg: "mode" }),
  maxTokens: z.number().int().min(1).default(128).describe("tokens per generated turn").meta({ arg: "n" }),
  temperature: z.number().min(0).default(1).describe("sampling temperature for responses (0: greedy)").meta({ arg: "t" }),
};

/** `cai revise`: supervised CAI (critique → revision). */
export const reviseConfigSchema = z.object({
  helpfulRatio: z
    .number()
    .min(0)
    .optional()
    .describe("helpfulness rows per red-team row in the SFT file (default: all)")
    .meta({ arg: "r" }),
  revisions: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("critique → revision rounds (default: the constitution's sampling.revisions)")
    .meta({ arg: "n" }),
  skipNoProblem: z
    .boolean()
    .default(true)
    .describe("skip the revision when the critique finds no problem")
    .meta({ negated: "revise even when the critique finds no problem" }),
  fewShot: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("few-shot examples from the constitution before each critique (default: all)")
    .meta({ arg: "n" }),
  ...workSettings,
});
export type ReviseConfig = z.output<typeof reviseConfigSchema>;

/** `cai label`: AI feedback labels (RLAIF). */
export const labelConfigSchema = z.object({
  responses: z.number().int().min(1).default(2).describe("responses per prompt from the policy").meta({ arg: "k" }),
  principles: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("principles per comparison, averaged (default: the constitution's sampling setting)")
    .meta({ arg: "m" }),
  chainOfThought: z
    .boolean()
    .default(false)
    .describe("chain of thought: reason first, then read the answer probability, clamped to --clamp"),
  clamp: z
    .tuple([z.number(), z.number()])
    .refine(([lo, hi]) => lo >= 0 && lo < hi && hi <= 1, "expected LOW,HIGH with 0 <= LOW < HIGH <= 1, e.g. 0.4,0.6")
    .default([0.4, 0.6])
    .describe("band for chain-of-thought probabilities")
    .meta({ arg: "lo,hi" }),
  samples: z
    .number()
    .int()
    .min(1)
    .default(8)
    .describe("answers sampled per question when the provider has no log-probs")
    .meta({ arg: "n" }),
  reasoningTokens: z.number().int().min(1).default(96).describe("tokens of reasoning in --cot mode").meta({ arg: "n" }),
  ...workSettings,
});
export type LabelConfig = z.output<typeof labelConfigSchema>;

/** Settings whose flag and recipe name is not the key's kebab-/snake-case form (kept as the CLI has always named them). */
const names: Record<string, string> = { skipNoProblem: "skip", chainOfThought: "cot" };

const words = (key: string) => names[key] ?? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** The flag of a setting, without `--`: `maxTokens` → `max-tokens`. */
export const flagName = (key: string): string => words(key).replaceAll("_", "-");
/** The recipe (YAML) name of a setting: `maxTokens` → `max_tokens`. */
export const yamlName = (key: string): string => words(key);

type Snake<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${Snake<T>}` : S;
type YamlKey<K extends string> = K extends "skipNoProblem" ? "skip" : K extends "chainOfThought" ? "cot" : Snake<K>;
/** A config as a recipe section writes it: snake_case keys, every one optional (defaults apply when the pipeline runs). */
export type YamlSection<C> = { [K in keyof C & string as YamlKey<K>]?: C[K] };

type Extra<E extends z.ZodRawShape> = [keyof E] extends [never] ? unknown : z.output<z.ZodObject<E>>;

/**
 * The recipe section for a pipeline: the schema's fields under their YAML
 * names, all optional and without defaults (the section is hashed as the
 * stage's settings, so it holds only what the recipe wrote), unknown keys refused.
 */
export function yamlSectionSchema<S extends z.ZodObject, E extends z.ZodRawShape = Record<never, never>>(
  schema: S,
  extra?: E,
): z.ZodType<YamlSection<z.output<S>> & Extra<E>> {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const def = (field as z.ZodType & { def: { type: string; innerType?: z.ZodType } }).def;
    shape[yamlName(key)] = (def.type === "default" && def.innerType ? def.innerType : (field as z.ZodType)).optional();
  }
  return z.object({ ...shape, ...extra }).strict() as unknown as z.ZodType<YamlSection<z.output<S>> & Extra<E>>;
}

/** A recipe section back under the library's names (the pipeline's schema then fills in the defaults). */
export function fromYamlSection(schema: z.ZodObject, section: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = section[yamlName(key)];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Parses a pipeline's settings out of its options (other keys are ignored), naming the field in errors. */
export function parsePipelineConfig<S extends z.ZodObject>(schema: S, options: object, what: string): z.output<S> {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(options)"}: ${i.message}`).join("; ");
  throw new Error(`${what}: ${issues}`);
}
