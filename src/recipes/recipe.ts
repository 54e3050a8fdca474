/**
 * The whole Constitutional AI recipe from one file (`precept cai run RECIPE`),
 * revise → SFT (the SL-CAI model) → AI labels → reward model → PPO (RL-CAI)
 * and/or DPO, each stage skipped when its output is up to date (stages.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { fromYamlSection, labelConfigSchema, parsePipelineConfig, reviseConfigSchema, yamlSectionSchema } from "../cai/configs.js";
import { FORMAT_VERSION, responsePrompt } from "../cai/format.js";
import { readPromptFile, runLabel, runRevise } from "../cai/pipeline.js";
import { loadConstitution } from "../constitution/load.js";
import { writeJsonl } from "../data/dataset.js";
import { isModelDir } from "../providers/open.js";
import type { Provider } from "../providers/provider.js";
import { warnLines } from "../quality/gate.js";
import type { Store } from "../store/store.js";
import { parseConfig } from "../train/config.js";
import { dpoConfigSchema, ppoConfigSchema, rewardConfigSchema, sftConfigSchema } from "../train/configs.js";
import { openProviders } from "./open-providers.js";
import { formatRecipeIssues, unrecognizedKeys } from "./recipe-issues.js";
import { writeRunReport } from "./run-report.js";
import { runStages, type Stage, type StageOutcome } from "./stages.js";
import { runDpo, runPpo, runReward, runSft } from "./train-run.js";

// The revise:/label: sections are the pipelines' own config schemas (src/cai/configs.ts) under their
// snake_case names; seed is the recipe's own, and mode stays completion (the SFT stage trains on transcripts).
const reviseSection = yamlSectionSchema(reviseConfigSchema.omit({ seed: true, mode: true }));
const labelSection = yamlSectionSchema(labelConfigSchema.omit({ seed: true, mode: true }), {
  contrast_model: z
    .string()
    .min(1)
    .optional()
    .describe("provider id whose response joins each prompt's responses (e.g. local:<base_model>)"),
});
/**
 * A trainer's section: its options under their TRL names, checked by the trainer's schema when the stage runs;
 * a key the trainer does not have is refused when the recipe is read (the schema alone would drop it unseen).
 */
const trainerSection = (schema: z.ZodObject) =>
  z
    .record(z.string(), z.unknown())
    .superRefine((section, ctx) => {
      const known = Object.keys(schema.shape);
      const unknown = Object.keys(section).filter((key) => !known.includes(key));
      if (unknown.length > 0) ctx.addIssue({ code: "custom", message: unrecognizedKeys(unknown, known) });
    })
    .default({});

export const recipeSchema = z
  .object({
    constitution: z.string().min(1),
    base_model: z.string().min(1).describe("model directory the recipe starts from (the helpful model)"),
    critic_model: z
      .string()
      .min(1)
      .optional()
      .describe("provider id of the critic/reviser (default: local:<base_model>, the model itself)"),
    feedback_model: z.string().min(1).optional().describe("provider id of the feedback model (default: the critic)"),
    prompts: z.string().min(1).describe("red-team prompts (JSONL)"),
    helpful: z.string().min(1).optional().describe("helpfulness prompts (JSONL)"),
    label_prompts: z.string().min(1).optional().describe("prompts for AI labels and RL (default: prompts)"),
    out: z.string().min(1),
    rl: z.enum(["ppo", "dpo", "both"]).default("ppo"),
    seed: z.number().int().min(0).default(0),
    strict: z.boolean().optional().describe("stop at the first stage whose quality gates fail (WARN lines otherwise)"),
    revise: reviseSection.default({}),
    label: labelSection.default({}),
    sft: trainerSection(sftConfigSchema),
    reward: trainerSection(rewardConfigSchema),
    ppo: trainerSection(ppoConfigSchema),
    dpo: trainerSection(dpoConfigSchema),
  })
  .strict();
export type Recipe = z.output<typeof recipeSchema>;

/** Reads a recipe; relative paths are relative to the recipe file. */
export function loadRecipe(path: string): Recipe {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  const parsed = recipeSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${path}: ${formatRecipeIssues(parsed.error, recipeSchema)}`);
  const base = dirname(resolve(path));
  const at = (p: string) => (isAbsolute(p) ? p : join(base, p));
  const r = parsed.data;
  return {
    ...r,
    constitution: at(r.constitution),
    base_model: at(r.base_model),
    prompts: at(r.prompts),
    out: at(r.out),
    ...(r.helpful ? { helpful: at(r.helpful) } : {}),
    ...(r.label_prompts ? { label_prompts: at(r.label_prompts) } : {}),
  };
}

/** RL prompts: each prompt as the transcript stem the SFT model was trained to continue. Returns `path`. */
export async function writeRlPrompts(prompts: string, path: string): Promise<string> {
  writeJsonl(
    path,
    (await readPromptFile(prompts)).rows.map((row) => ({ prompt: responsePrompt(row.prompt) })),
  );
  return path;
}

/** The directories the recipe's stages write. */
export function recipeDirs(out: string) {
  return {
    revise: join(out, "revise"),
    slCai: join(out, "sl-cai"),
    label: join(out, "label"),
    rm: join(out, "rm"),
    ppo: join(out, "rl-cai-ppo"),
    dpo: join(out, "rl-cai-dpo"),
  };
}

/** A pipeline stage that left prompts undone fails, with the first error and whether running again can help. */
function requireAllDone(
  stage: string,
  summary: { prompts: number; items: { done: number }; errors: { error: string; permanent?: boolean }[] },
): void {
  if (summary.items.done === summary.prompts) return;
  const advice = summary.errors.some((e) => e.permanent)
    ? "running again will not fix this error: fix its cause first"
    : "run again to continue";
  throw new Error(
    `${stage}: ${summary.prompts - summary.items.done} prompt(s) not done (${summary.errors[0]?.error ?? "see the store"}); ${advice}`,
  );
}

/** The recipe's stages, for `cai run` and for the quickstart (which adds its own around them). */
export type StageHooks = {
  /** Extra metrics per PPO rollout (the quickstart's gold reward). */
  observePpo?: Parameters<typeof runPpo>[1]["observe"];
  /** Where the pipelines' WARN lines go (default: console.log; the trainers print their own). */
  log?: (line: string) => void;
};

export function caiStages(r: Recipe, store: Store, hooks: StageHooks = {}): Stage[] {
  const dirs = recipeDirs(r.out);
  const constitution = loadConstitution(r.constitution);
  const labelPrompts = r.label_prompts ?? r.prompts;
  const policyId = `local:${r.base_model}`;
  const criticId = r.critic_model ?? policyId;
  const feedbackId = r.feedback_model ?? criticId;
  // A local critic's weights are an input of the stages it works in (a bare directory is local too).
  const localDir = (id: string) => (id.startsWith("local:") ? [id.slice("local:".length)] : isModelDir(id) ? [id] : []);
  /** Opens the providers for one stage and closes them after it (local models free their memory). */
  const withProviders = async <T>(ids: string[], batch: number, use: (get: (id: string) => Provider) => Promise<T>): Promise<T> => {
    const map = await openProviders(ids, store, batch);
    try {
      return await use((id) => map.get(id) as Provider);
    } finally {
      for (const provider of new Set(map.values())) provider.close?.();
    }
  };
  const log = hooks.log ?? console.log;
  const stages: Stage[] = [
    {
      name: "revise",
      output: dirs.revise,
      inputs: [r.constitution, r.base_model, r.prompts, ...(r.helpful ? [r.helpful] : []), ...localDir(criticId)],
      settings: { revise: r.revise, seed: r.seed, critic: criticId, format: FORMAT_VERSION },
      run: async () => {
        const settings = parsePipelineConfig(
          reviseConfigSchema,
          { ...fromYamlSection(reviseConfigSchema, r.revise), seed: r.seed },
          "recipe revise",
        );
        const summary = await withProviders([policyId, criticId], settings.concurrency, (get) =>
          runRevise({
            ...settings,
            store,
            constitution,
            policy: get(policyId),
            critic: get(criticId),
            prompts: r.prompts,
            ...(r.helpful ? { helpful: r.helpful } : {}),
            outDir: dirs.revise,
            strict: r.strict ?? false,
          }),
        );
        for (const line of warnLines(summary.gates)) log(`revise: ${line}`);
        requireAllDone("revise", summary);
      },
    },
    {
      name: "sft",
      output: dirs.slCai,
      inputs: [r.base_model, join(dirs.revise, "sft.jsonl")],
      settings: r.sft,
      run: (resume) =>
        runSft(
          parseConfig(
            sftConfigSchema,
            {
              ...r.sft,
              model_name_or_path: r.base_model,
              train_file: join(dirs.revise, "sft.jsonl"),
              output_dir: dirs.slCai,
              seed: r.seed,
              strict: r.strict ?? false,
            },
            "recipe sft",
          ),
          resume ? { resume } : {},
        ),
    },
    {
      name: "label",
      output: dirs.label,
      inputs: [
        r.constitution,
        dirs.slCai,
        labelPrompts,
        ...localDir(feedbackId),
        ...(r.label.contrast_model ? localDir(r.label.contrast_model) : []),
      ],
      settings: { label: r.label, seed: r.seed, feedback: feedbackId, format: FORMAT_VERSION },
      run: async () => {
        const slCaiId = `local:${dirs.slCai}`;
        const contrast = r.label.contrast_model ? [r.label.contrast_model] : [];
        const settings = parsePipelineConfig(
          labelConfigSchema,
          { ...fromYamlSection(labelConfigSchema, r.label), seed: r.seed },
          "recipe label",
        );
        const summary = await withProviders([slCaiId, feedbackId, ...contrast], settings.concurrency, (get) =>
          runLabel({
            ...settings,
            store,
            constitution,
            policy: get(slCaiId),
            feedback: get(feedbackId),
            prompts: labelPrompts,
            ...(r.label.contrast_model ? { contrast: get(r.label.contrast_model) } : {}),
            out: join(dirs.label, "preferences.jsonl"),
            strict: r.strict ?? false,
          }),
        );
        for (const line of warnLines(summary.gates)) log(`label: ${line}`);
        requireAllDone("label", summary);
        if (summary.pairs === 0)
          throw new Error("label: no preference pairs (every prompt's responses were identical); raise label.temperature");
      },
    },
    {
      name: "reward",
      output: dirs.rm,
      inputs: [r.base_model, join(dirs.label, "preferences.jsonl")],
      settings: r.reward,
      run: async (resume) => {
        await runReward(
          parseConfig(
            rewardConfigSchema,
            {
              model_name_or_path: r.base_model,
              ...r.reward,
              train_file: join(dirs.label, "preferences.jsonl"),
              output_dir: dirs.rm,
              seed: r.seed,
              strict: r.strict ?? false,
            },
            "recipe reward",
          ),
          resume ? { resume } : {},
        );
      },
    },
  ];
  if (r.rl === "ppo" || r.rl === "both") {
    stages.push({
      name: "ppo",
      output: dirs.ppo,
      inputs: [dirs.slCai, dirs.rm, labelPrompts],
      settings: r.ppo,
      run: async (resume) => {
        const prompts = await writeRlPrompts(labelPrompts, join(r.out, "rl-prompts.jsonl"));
        await runPpo(
          parseConfig(
            ppoConfigSchema,
            {
              ...r.ppo,
              model_name_or_path: dirs.slCai,
              reward_model_path: dirs.rm,
              train_file: prompts,
              output_dir: dirs.ppo,
              seed: r.seed,
              strict: r.strict ?? false,
            },
            "recipe ppo",
          ),
          { ...(resume ? { resume } : {}), ...(hooks.observePpo ? { observe: hooks.observePpo } : {}) },
        );
      },
    });
  }
  if (r.rl === "dpo" || r.rl === "both") {
    stages.push({
      name: "dpo",
      output: dirs.dpo,
      inputs: [dirs.slCai, join(dirs.label, "preferences.jsonl")],
      settings: r.dpo,
      run: async (resume) => {
        await runDpo(
          parseConfig(
            dpoConfigSchema,
            {
              ...r.dpo,
              model_name_or_path: dirs.slCai,
              train_file: join(dirs.label, "preferences.jsonl"),
              output_dir: dirs.dpo,
              seed: r.seed,
              strict: r.strict ?? false,
            },
            "recipe dpo",
          ),
          resume ? { resume } : {},
        );
      },
    });
  }
  return stages;
}

/** A recipe given in code (the YAML file's fields; relative paths are relative to the working directory). */
export type RecipeInput = z.input<typeof recipeSchema>;

function checkedRecipe(input: RecipeInput): Recipe {
  const parsed = recipeSchema.safeParse(input);
  if (!parsed.success) throw new Error(`recipe: ${formatRecipeIssues(parsed.error, recipeSchema)}`);
  return parsed.data;
}

/** Runs the recipe in a YAML/JSON file (or given as an object), its records in `store`; returns what each stage did. */
export async function runRecipe(
  source: string | RecipeInput,
  store: Store,
  options: { force?: string; log?: (line: string) => void; strict?: boolean } = {},
): Promise<StageOutcome[]> {
  const loaded = typeof source === "string" ? loadRecipe(source) : checkedRecipe(source);
  const recipe = options.strict ? { ...loaded, strict: true } : loaded;
  const outcomes = await runStages(caiStages(recipe, store, options.log ? { log: options.log } : {}), options);
  writeFileSync(join(recipe.out, "stages.json"), `${JSON.stringify(outcomes, null, 2)}\n`);
  // report.json and report.html: stage numbers, gates, transcripts.
  await writeRunReport(recipe, recipeDirs(recipe.out), outcomes, store);
  return outcomes;
}
