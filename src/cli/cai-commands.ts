/**
 * `precept cai revise|label|run`: the Constitutional AI pipelines. Options
 * only; the implementation (which loads models and providers) is imported
 * when a command runs.
 */
import { type Command, InvalidArgumentError } from "commander";
import { anyInt, count, numberIn, positiveInt } from "./numbers.js";
import { storeLocation } from "./store-location.js";

function band(value: string): [number, number] {
  const parts = value.split(",").map(Number);
  const [lo, hi] = parts;
  if (parts.length !== 2 || lo === undefined || hi === undefined || !(lo >= 0 && lo < hi && hi <= 1))
    throw new InvalidArgumentError("expected LOW,HIGH with 0 <= LOW < HIGH <= 1, e.g. 0.4,0.6");
  return [lo, hi];
}

/** Options every pipeline shares: which run, how many items at once, leases and retries. */
function runControl(command: Command): Command {
  return command
    .option("--run <id>", "run id in the store (default: derived from the inputs and settings, so the same command continues the same run)")
    .option("--limit <n>", "take only the first N prompts of each file", positiveInt)
    .option("--concurrency <n>", "items in flight at once, ≥ 1 (a local model decodes them as one batch)", positiveInt, 8)
    .option(
      "--lease <seconds>",
      "how long a claimed item stays with this process before others may take it",
      numberIn({ min: 0, exclusiveMin: true }),
      600,
    )
    .option(
      "--retries <n>",
      "retries of a failed model request (HTTP providers; default 5) and extra tries of a failed item in this invocation (default 1; then it is left pending); 0: no retries",
      count,
    )
    .option("--max-attempts <n>", "attempts over all invocations before an item is marked failed", positiveInt, 5)
    .option("--seed <n>", "seed for principle sampling and generation", anyInt, 0)
    .option(
      "--mode <mode>",
      "completion: Human/Assistant transcripts (base models, vLLM, precept serve); chat: chat messages",
      "completion",
    )
    .option("--max-tokens <n>", "tokens per generated turn", positiveInt, 128)
    .option("--temperature <t>", "sampling temperature for responses (0: greedy)", numberIn({ min: 0 }), 1)
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

  runControl(
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
      .option("--helpful-ratio <r>", "helpfulness rows per red-team row in the SFT file (default: all)", numberIn({ min: 0 }))
      .option("--revisions <n>", "critique → revision rounds (default: the constitution's sampling.revisions)", count)
      .option("--no-skip", "revise even when the critique finds no problem")
      .option("--few-shot <n>", "few-shot examples from the constitution before each critique (default: all)", count)
      .option("--out <dir>", "where sft.jsonl, preferences.jsonl and summary.json go", "runs/cai-revise"),
  ).action(async (options, command: Command) => (await import("./cai.js")).revise(options, storeLocation(command)));

  runControl(
    cai
      .command("label")
      .description(
        "AI feedback: k responses per prompt, each pair judged on sampled principles as (A)/(B); soft labels from log-probs, both orders averaged",
      )
      .requiredOption("--prompts <file>", 'prompts, JSONL rows {"prompt": …} (or {"prompt", "responses": [..]} to label given responses)')
      .requiredOption("--constitution <file>", "constitution (YAML or JSON)")
      .option("--policy <id>", "the model that writes the responses (e.g. the SL-CAI model)")
      .option("--feedback <id>", "the feedback model that compares them (default: the policy)")
      .option("--responses <k>", "responses per prompt from the policy", positiveInt, 2)
      .option("--contrast <id>", "a second model whose response joins each prompt's (e.g. the base model), so pairs span both behaviours")
      .option("--principles <m>", "principles per comparison, averaged (default: the constitution's sampling setting)", positiveInt)
      .option("--cot", "chain of thought: reason first, then read the answer probability, clamped to --clamp", false)
      .option("--clamp <lo,hi>", "band for chain-of-thought probabilities", band, [0.4, 0.6])
      .option("--samples <n>", "answers sampled per question when the provider has no log-probs", positiveInt, 8)
      .option("--reasoning-tokens <n>", "tokens of reasoning in --cot mode", positiveInt, 96)
      .option("--out <file>", "preference JSONL with soft labels", "runs/cai-label/preferences.jsonl"),
  ).action(async (options, command: Command) => (await import("./cai.js")).label(options, storeLocation(command)));

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
settings under revise, sft, label, reward, ppo, dpo (the same names as the commands' options and
the trainers' configs).`,
    )
    .action(async (config: string, options: { force?: string; strict?: boolean }, command: Command) =>
      (await import("./cai.js")).recipe(config, options, storeLocation(command)),
    );
}
