/**
 * `precept cai revise|label|run`: the Constitutional AI pipelines. Options
 * only; the implementation (which loads models and providers) is imported
 * when a command runs.
 */
import type { Command } from "commander";
import { labelConfigSchema, reviseConfigSchema } from "../cai/configs.js";
import { positiveInt } from "./numbers.js";
import { addPipelineOptions } from "./pipeline-options.js";
import { storeLocation } from "./store-location.js";

/** Options of one invocation (not settings of the pipeline, so not in its config schema): which run, how many prompts, output. */
function invocation(command: Command): Command {
  return command
    .option("--run <id>", "run id in the store (default: derived from the inputs and settings, so the same command continues the same run)")
    .option("--limit <n>", "take only the first N prompts of each file", positiveInt)
    .option("--json", "print the summary as JSON", false)
    .option(
      "--strict",
      "exit non-zero (1) when a quality gate fails (empty responses, degenerate pairs, position bias, ...: the WARN lines)",
      false,
    );
}

export function addCaiCommands(program: Command): void {
  const cai = program
    .command("cai")
    .description("Constitutional AI pipelines: critique → revision (SL-CAI), AI feedback labels (RLAIF), and the full recipe")
    .addHelpText(
      "after",
      `
Providers (--policy, --critic, --feedback): local:DIR (a model directory), hf:Org/Name@rev,
openai:MODEL (any OpenAI-compatible server: OPENAI_BASE_URL, OPENAI_API_KEY; vLLM, Ollama,
llama.cpp, precept serve) or anthropic:MODEL (ANTHROPIC_API_KEY).
Pipelines keep every step in the store (--db). Kill one and run the same command again: it
continues where it stopped, with no duplicated and no lost records.`,
    );

  const revise = addPipelineOptions(
    cai
      .command("revise")
      .description(
        "supervised CAI: first response, then rounds of sampled principle → critique → revision; writes sft.jsonl and preferences.jsonl (TRL)",
      )
      .requiredOption("--prompts <file>", 'red-team prompts, JSONL rows {"prompt": …}')
      .requiredOption("--constitution <file>", "constitution (YAML or JSON)")
      .requiredOption("--policy <id>", "the model whose responses are revised")
      .option("--critic <id>", "the model that critiques and revises (default: the policy)")
      .option("--helpful <file>", "helpfulness prompts: first responses only, mixed into the SFT file")
      .option("--out <dir>", "where sft.jsonl, preferences.jsonl and summary.json go", "runs/cai-revise"),
    reviseConfigSchema,
  );
  invocation(revise).action(async (options, command: Command) => (await import("./cai.js")).revise(options, storeLocation(command)));

  const label = addPipelineOptions(
    cai
      .command("label")
      .description(
        "AI feedback: k responses per prompt, each pair judged on sampled principles as (A)/(B); soft labels from log-probs, both orders averaged",
      )
      .requiredOption("--prompts <file>", 'prompts, JSONL rows {"prompt": …} (or {"prompt", "responses": [..]} to label given responses)')
      .requiredOption("--constitution <file>", "constitution (YAML or JSON)")
      .option("--policy <id>", "the model that writes the responses (e.g. the SL-CAI model)")
      .option("--feedback <id>", "the feedback model that compares them (default: the policy)")
      .option("--contrast <id>", "a second model whose response joins each prompt's (e.g. the base model), so pairs span both behaviours")
      .option("--out <file>", "preference JSONL with soft labels", "runs/cai-label/preferences.jsonl"),
    labelConfigSchema,
  );
  invocation(label).action(async (options, command: Command) => (await import("./cai.js")).label(options, storeLocation(command)));

  cai
    .command("run")
    .description(
      "the full recipe from a config file: revise → SFT → label → reward model → PPO (or DPO); a stage is skipped when its output exists and its inputs are unchanged",
    )
    .argument("<config>", "YAML or JSON recipe (see `precept cai run --help`)")
    .option("--force <stage>", "run this stage (and the ones after it) even if up to date")
    .option("--strict", "stop at the first stage whose quality gates fail (as strict: true in the recipe)")
    .addHelpText(
      "after",
      `
Recipe fields: constitution, base_model (directory), prompts (red-team JSONL), helpful (JSONL,
optional), label_prompts (JSONL, default: prompts), out (directory), rl: ppo | dpo, strict, and per-stage
settings under revise, sft, label, reward, ppo, dpo: revise and label take the settings of
\`cai revise\` and \`cai label\` in snake_case (max_tokens, few_shot, skip, cot, ...; not seed or mode),
label also contrast_model (a provider id); sft, reward, ppo, dpo take the trainers' configs.`,
    )
    .action(async (config: string, options: { force?: string; strict?: boolean }, command: Command) =>
      (await import("./cai.js")).recipe(config, options, storeLocation(command)),
    );
}
