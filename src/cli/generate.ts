/** `precept generate`: a model's responses to a prompt file, as JSONL (see src/recipes/generate.ts). */
import type { Command } from "commander";
import { anyInt, numberIn, positiveInt } from "./numbers.js";

export function addGenerateCommand(program: Command): void {
  program
    .command("generate")
    .description("a model's responses to your prompts, one JSONL row each {prompt, completion, model, sample, seed}: greedy by default")
    .requiredOption("--model <id>", "the model: a directory, local:DIR, hf:Org/Name@rev, openai:MODEL, anthropic:MODEL")
    .requiredOption("--prompts <file>", 'JSONL rows {"prompt": …} (text or messages)')
    .requiredOption("--out <file>", "where the responses go (JSONL)")
    .option("--max-tokens <n>", "tokens per response", positiveInt, 128)
    .option("--temperature <t>", "sampling temperature (0: greedy)", numberIn({ min: 0 }), 0)
    .option("--samples <n>", "responses per prompt (each with its own seed; use a temperature above 0)", positiveInt, 1)
    .option("--seed <n>", "seed of the sampled responses", anyInt, 0)
    .option("--format <format>", "auto (chat when the model has a chat template, else a Human/Assistant transcript), chat or text", "auto")
    .option("--limit <n>", "only the first N prompts", positiveInt)
    .option("--concurrency <n>", "prompts in flight at once (a local model decodes them as one batch)", positiveInt, 8)
    .option("--strict", "exit non-zero (1) when a quality gate fails (empty or repeated responses)", false)
    .action(async (options) => (await import("./generate-run.js")).generate(options));
}
