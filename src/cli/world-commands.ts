/** `precept world pretrain|prompts`: the sandbox world's base model and prompt files. */
import type { Command } from "commander";
import { anyInt, numberIn, positiveInt } from "./numbers.js";

const positive = numberIn({ min: 0, exclusiveMin: true });

export function addWorldCommands(program: Command): void {
  const world = program
    .command("world")
    .description("the sandbox world: a synthetic assistant domain with a gold judge, its tiny base model and prompt files")
    .addHelpText(
      "after",
      `
The sandbox model (models/sandbox-base) knows only the world's text: a 4-layer GPT-2 with a
1024-token vocabulary, not a general assistant. Asked anything outside its world (your own
constitution's prompts, everyday questions) it answers with nothing or with unrelated world text,
so as a policy or critic for your data it produces empty responses and made-up critiques (the
quality gates then print WARN lines). Use it to watch the loop run and measure it against the gold
judge; for your own prompts use your own base model and a real critic/feedback model
(--critic openai:MODEL, anthropic:MODEL). Try: precept generate --model models/sandbox-base --prompts FILE --out OUT`,
    );
  world
    .command("pretrain")
    .description(
      "pretrain the sandbox's tiny base model (GPT-2 4×128 over a BPE fitted to the world) on the world corpus: helpful-only dialogues plus critique/revision and comparison documents; this is how models/sandbox-base was made",
    )
    .option("--out <dir>", "where to save the model", "models/sandbox-base")
    .option("--steps <n>", "optimizer steps (batch × 256 tokens each)", positiveInt, 800)
    .option("--batch <n>", "rows per step", positiveInt, 16)
    .option("--lr <x>", "peak learning rate (cosine schedule)", positive, 3e-3)
    .option("--corpus-scale <x>", "corpus size relative to the default 3000 documents of each kind", positive, 1)
    .option("--seed <n>", "seed of the corpus and the initial weights", anyInt, 0)
    .action(async (o: { out: string; steps: number; batch: number; lr: number; corpusScale: number; seed: number }) => {
      const { pretrainSandboxModel } = await import("../recipes/sandbox.js");
      await pretrainSandboxModel({
        out: o.out,
        steps: o.steps,
        batch: o.batch,
        learningRate: o.lr,
        corpusScale: o.corpusScale,
        seed: o.seed,
      });
    });
  world
    .command("prompts")
    .description("write the world's red-team, helpfulness, RL and evaluation prompt files (JSONL)")
    .option("--out <dir>", "directory", "runs/world")
    .option("--per-category <n>", "training prompts per category", positiveInt, 40)
    .option("--eval-per-category <n>", "held-out evaluation prompts per category", positiveInt, 20)
    .option("--seed <n>", "seed", anyInt, 0)
    .action(async (o: { out: string; perCategory: number; evalPerCategory: number; seed: number }) => {
      const { writeSandboxPrompts } = await import("../recipes/sandbox.js");
      const files = writeSandboxPrompts(o.out, { seed: o.seed, perCategory: o.perCategory, evalPerCategory: o.evalPerCategory });
      console.log(Object.values(files).join("\n"));
    });
}
