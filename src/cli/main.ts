/**
 * The `precept` command line. Global options that shape the array engine
 * (`--threads`, `--device`) must be in the environment before jax-js loads,
 * so every command's implementation is imported only after they are parsed.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import {
  dpoConfigSchema,
  grpoConfigSchema,
  ppoConfigSchema,
  rewardConfigSchema,
  rlooConfigSchema,
  sftConfigSchema,
} from "../train/configs.js";
import { addTrainCommands } from "./train.js";

function positiveInt(value: string): string {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("expected a positive integer");
  return value;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("precept")
    .description("Align language models with Constitutional AI and RLHF, in TypeScript: real training, data pipelines and evaluation.")
    .version("0.1.0")
    .addOption(
      new Option("--threads <n>", "CPU threads for the array engine (default: all cores)").env("PRECEPT_THREADS").argParser(positiveInt),
    )
    .addOption(
      new Option("--device <device>", "where arrays live").choices(["wasm", "webgpu", "cpu", "auto"]).default("wasm").env("PRECEPT_DEVICE"),
    )
    .showHelpAfterError("(run `precept --help` for usage)")
    .hook("preAction", (command) => {
      const { threads, device } = command.opts<{ threads?: string; device: string }>();
      if (threads) process.env.PRECEPT_THREADS = threads;
      process.env.PRECEPT_DEVICE = device;
    });

  program
    .command("demo")
    .description(
      "Train a tiny byte-level GPT-2 from scratch on built-in text (about a minute on 2 cores), show it learn, continue a prompt and save it as a Hugging Face model directory.",
    )
    .option("--steps <n>", "training steps", positiveInt, "400")
    .option("--out <dir>", "where to save the checkpoint", "runs/demo")
    .option("--seed <n>", "random seed", "0")
    .action(async (options: { steps: string; out: string; seed: string }) => {
      const { runDemo } = await import("./demo.js");
      await runDemo({ steps: Number(options.steps), out: options.out, seed: Number(options.seed) });
    });

  program
    .command("serve")
    .description("serve a local model over an OpenAI-compatible HTTP API (/v1/models, /v1/completions, /v1/chat/completions)")
    .requiredOption("--model <dir>", "model directory, local:DIR or hf:Org/Name@revision")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", positiveInt, "8000")
    .option("--token <token>", "require Authorization: Bearer <token> (or PRECEPT_SERVE_TOKEN)")
    .option("--name <name>", "model name clients see (default: the directory name)")
    .action(async (options: { model: string; host: string; port: string; token?: string; name?: string }) => {
      const { runServe } = await import("./serve.js");
      const token = options.token ?? process.env.PRECEPT_SERVE_TOKEN;
      await runServe({ ...options, port: Number(options.port), ...(token ? { token } : {}) });
    });

  addTrainCommands(program, {
    sft: { description: "supervised fine-tuning on prompt-completion, messages or text JSONL", schema: sftConfigSchema, run: "runSft" },
    rm: {
      description: "train a reward model (Bradley-Terry) on preference JSONL {prompt, chosen, rejected}",
      schema: rewardConfigSchema,
      run: "runReward",
    },
    dpo: { description: "direct preference optimization (sigmoid, cDPO, IPO) on preference JSONL", schema: dpoConfigSchema, run: "runDpo" },
    ppo: { description: "PPO with a KL penalty against a reward model, on prompt JSONL", schema: ppoConfigSchema, run: "runPpo" },
    grpo: {
      description: "GRPO (group-normalized advantages) against a reward model, on prompt JSONL",
      schema: grpoConfigSchema,
      run: "runGrpo",
    },
    rloo: {
      description: "RLOO (leave-one-out baseline) against a reward model, on prompt JSONL",
      schema: rlooConfigSchema,
      run: "runRloo",
    },
  });

  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    console.error(`precept: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
