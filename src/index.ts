/**
 * Precept: align language models with Constitutional AI and RLHF.
 *
 * The package root is the public API: from code, a TypeScript user can do
 * everything the `precept` command does. Every function takes its inputs as
 * parameters (the store, the provider, the output directory); none reads
 * `PRECEPT_*` environment variables (only the CLI does, at its edge).
 *
 *   import { runRevise, trainDpo, runRecipe, openStore, openProvider, loadModel } from "precept";
 *
 * By layer (../shared/DESIGN.md):
 * - engine, models: arrays and autodiff over jax-js (initEngine, adamw, safetensors), Hugging Face
 *   causal LMs (loadModel, saveModel, generate, LoRA), tokenizers and chat templates;
 * - data: JSONL rows in TRL's conventions and tokenized examples;
 * - train: one trainer per algorithm (trainSft, trainRewardModel, trainDpo, trainPpo, trainGrpo,
 *   trainRloo, trainKto, trainOrpo, trainCpo, trainSimpo, trainOnlineDpo), each with its TRL-named
 *   config schema (`dpoConfigSchema.parse({...})` fills TRL's defaults), every loss a pure function;
 * - store, providers: `openStore(location)` (a SQLite file or a postgres:// URL), and model
 *   backends behind one interface (`openProvider("local:DIR" | "openai:MODEL" | ...)`);
 * - constitution, cai, feedback, eval, world: constitutions, the CAI pipelines (runRevise,
 *   runLabel), human feedback (agreement, consensus, export), evaluation suites and metrics, and
 *   the sandbox world's gold judge;
 * - recipes: the loop (runRecipe, caiStages, runStages, quickstart), trainers run from a config
 *   with file paths as `precept train` runs them (runSft, runDpo, ...), the sandbox assets;
 * - server: the OpenAI-compatible and annotation HTTP apps (Hono; serve with @hono/node-server).
 */
/** The CAI pipelines' settings, one zod schema each (library defaults, `cai revise|label` flags, recipe sections). */
export { type LabelConfig, labelConfigSchema, type ReviseConfig, reviseConfigSchema } from "./cai/configs.js";
export {
  type LabelOptions,
  type LabelSummary,
  type PromptFileRow,
  type ReviseOptions,
  type ReviseSummary,
  readPromptFile,
  runLabel,
  runRevise,
  type Summary as PipelineSummary,
} from "./cai/pipeline.js";
export * from "./constitution/index.js";
/** A principle's request text for one stage (eval's judge has its own principleText for judge prompts). */
export { principleText } from "./constitution/stages.js";
export {
  DatasetError,
  type Message,
  messageSchema,
  type PreferenceRow,
  type PromptRow,
  preferenceRowSchema,
  promptRowSchema,
  readJsonl,
  readJsonlLines,
  type SftRow,
  sftRowSchema,
  writeJsonl,
} from "./data/dataset.js";
export { type LmExample, type PreferenceExample, packExamples, preferenceExample, promptIds, sftExample } from "./data/examples.js";
export { extractPrompt } from "./data/implicit-prompt.js";
export * from "./engine/index.js";
export * from "./eval/index.js";
export { type Alpha, cohensKappa, type Kappa, krippendorffAlpha } from "./feedback/agreement.js";
export { type AiJudgement, aiJudgements, aiVersusHuman } from "./feedback/ai-labels.js";
export { type Campaign, type CampaignSettings, createCampaign, findCampaign, type ItemInput } from "./feedback/campaign.js";
export * from "./feedback/consensus.js";
export * from "./feedback/export.js";
export { type CampaignReport, campaignReport } from "./feedback/report.js";
export { itemsFromComparisons, itemsFromJsonl } from "./feedback/sources.js";
export { addAnnotator, revokeAnnotator, rotateToken } from "./feedback/users.js";
export * from "./guard/index.js";
export * from "./models/index.js";
export * from "./providers/index.js";
export * from "./quality/index.js";
export { type DemoOptions, runDemo } from "./recipes/demo.js";
export { type GeneratedRow, type GenerateOptions, type GenerateSummary, generateResponses } from "./recipes/generate.js";
export { openProviders } from "./recipes/open-providers.js";
export { type QuickstartOptions, quickstart } from "./recipes/quickstart.js";
export { caiStages, loadRecipe, type Recipe, type RecipeInput, recipeDirs, recipeSchema, runRecipe } from "./recipes/recipe.js";
export { buildRunReport, type RunReport, renderRunReport, writeRunReport } from "./recipes/run-report.js";
export {
  pretrainSandboxModel,
  SANDBOX_BASE,
  SANDBOX_CONSTITUTION,
  SANDBOX_MODEL,
  writeSandboxPrompts,
} from "./recipes/sandbox.js";
export { contentHash, runStages, type Stage, type StageOutcome } from "./recipes/stages.js";
export { runCpo, runDpo, runGrpo, runKto, runOrpo, runPpo, runReward, runRloo, runSft } from "./recipes/train-run.js";
export { type AnnotateOptions, createAnnotateApp } from "./server/annotate.js";
export { createOpenAiApp, type ServerOptions } from "./server/openai.js";
export * from "./store/index.js";
export { parseConfig, type TrainingConfig, trainingConfigSchema } from "./train/config.js";
export * from "./train/configs.js";
export { NonFiniteError, resolveResume } from "./train/core.js";
/** SimPO is the CPO trainer with `loss_type: "simpo"` (`simpoConfigSchema` has SimPO's defaults). */
export { trainCpo, trainCpo as trainSimpo, trainOrpo } from "./train/cpo.js";
export { type DpoExample, trainDpo } from "./train/dpo.js";
export { trainGrpo, trainRloo } from "./train/group.js";
export { type KtoExample, trainKto, unpair } from "./train/kto.js";
export * from "./train/losses.js";
export { type OnlineDpoInputs, type PairJudge, trainOnlineDpo } from "./train/online-dpo.js";
export { type RewardFunction, type RewardSource, trainPpo } from "./train/ppo.js";
export { type PairExample, pairAccuracy, trainRewardModel } from "./train/reward.js";
export { trainSft } from "./train/sft.js";
export { buildCorpus, type Corpus, type CorpusOptions } from "./world/corpus.js";
export { type Judgement as GoldJudgement, judge as goldJudge, RULES as GOLD_RULES } from "./world/judge.js";
export {
  allPrompts as sandboxPrompts,
  CATEGORIES as SANDBOX_CATEGORIES,
  type Category as SandboxCategory,
  promptById as sandboxPrompt,
  RED_TEAM_CATEGORIES,
  samplePrompts as sampleSandboxPrompts,
  type WorldPrompt,
} from "./world/prompts.js";
