/**
 * The `precept` command line. Global options that shape the array engine
 * (`--threads`, `--device`) must be in the environment before jax-js loads,
 * so every command's implementation is imported only after they are parsed.
 */
import { Command, Option } from "commander";
import {
  cpoConfigSchema,
  dpoConfigSchema,
  grpoConfigSchema,
  ktoConfigSchema,
  onlineDpoConfigSchema,
  orpoConfigSchema,
  ppoConfigSchema,
  rewardConfigSchema,
  rlooConfigSchema,
  sftConfigSchema,
  simpoConfigSchema,
} from "../train/configs.js";
import { addAnnotateCommands } from "./annotate.js";
import { addCaiCommands } from "./cai-commands.js";
import { addDataCommands } from "./data.js";
import { addEvalCommands } from "./eval.js";
import { addGenerateCommand } from "./generate.js";
import { addGuardCommands } from "./guard.js";
import { anyInt, positiveInt as checkedPositiveInt, port } from "./numbers.js";
import { givenStoreLocation, storeLocation } from "./store-location.js";
import { addTrainCommands } from "./train.js";
import { addWorldCommands } from "./world-commands.js";

const RECORD_KINDS = ["prompt", "generation", "critique", "revision", "comparison", "ai_label", "annotation"];

/** Options kept as strings (they go to the environment or to Number() later), checked by the shared layer. */
function positiveInt(value: string): string {
  checkedPositiveInt(value);
  return value.trim();
}
function wholeNumber(value: string): string {
  anyInt(value);
  return value.trim();
}

/** A comma-separated list option (`a,b`); repeating the option adds to it. */
function list(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("precept")
    .description("Align language models with Constitutional AI and RLHF, in TypeScript: real training, data pipelines and evaluation.")
    // `-V` here; a leading `--version` is mapped to it (see versionFlag), so commands can have their own --version.
    .version("0.1.0", "-V", "output the version number (also --version before any command)")
    .addOption(
      new Option("--threads <n>", "CPU threads for the array engine (default: all cores)").env("PRECEPT_THREADS").argParser(positiveInt),
    )
    .addOption(
      new Option(
        "--matmul <kind>",
        "matrix products: blas (OpenBLAS, native), wasm (jax-js kernels) or auto (blas when its addon is built)",
      )
        .choices(["auto", "blas", "wasm"])
        .default("auto")
        .env("PRECEPT_MATMUL"),
    )
    .addOption(
      new Option("--device <device>", "where arrays live").choices(["wasm", "webgpu", "cpu", "auto"]).default("wasm").env("PRECEPT_DEVICE"),
    )
    .addOption(
      new Option("--db <location>", "the store: a SQLite file, or postgres://user:pass@host/db").default("precept.db").env("PRECEPT_DB"),
    )
    .showHelpAfterError("(run `precept --help` for usage)")
    .hook("preAction", (command) => {
      // The store location is not put here: each command passes --db down as a parameter (store-location.ts).
      const { threads, device, matmul } = command.opts<{ threads?: string; device: string; matmul: string }>();
      if (threads) process.env.PRECEPT_THREADS = threads;
      process.env.PRECEPT_MATMUL = matmul;
      process.env.PRECEPT_DEVICE = device;
    });

  program
    .command("demo")
    .description(
      "Train a tiny byte-level GPT-2 from scratch on built-in text (about a minute on 2 cores), show it learn, continue a prompt and save it as a Hugging Face model directory.",
    )
    .option("--steps <n>", "training steps", positiveInt, "400")
    .option("--out <dir>", "where to save the checkpoint", "runs/demo")
    .option("--seed <n>", "random seed", wholeNumber, "0")
    .action(async (options: { steps: string; out: string; seed: string }) => {
      const { runDemo } = await import("./demo.js");
      await runDemo({ steps: Number(options.steps), out: options.out, seed: Number(options.seed) });
    });

  program
    .command("quickstart")
    .description(
      "the whole alignment loop on the sandbox world, offline: base → SL-CAI → AI labels → reward model → PPO (and DPO), then evaluation by the gold judge, report.html and summary.json (about 4 minutes on 2 cores; --fast: under 1)",
    )
    .option("--out <dir>", "where every stage's output, the report and the summary go", "runs/quickstart")
    .option("--fast", "a shortened run (fewer prompts and steps), as in CI", false)
    .option("--policy <dir>", "the base model to align (default: the shipped sandbox model, models/sandbox-base)")
    .option("--critic <id>", "critic and feedback model: local:DIR, openai:MODEL, anthropic:MODEL (default: the base model itself)")
    .option("--judge <id>", "also compare each stage with the base by this provider (multiple choice under the sandbox constitution)")
    .option("--seed <n>", "seed", wholeNumber, "0")
    .addHelpText(
      "after",
      "\nRerun the same command to continue after an interruption: finished stages are skipped. The store is <out>/precept.db unless --db is given.",
    )
    .action(
      async (options: { out: string; fast: boolean; policy?: string; critic?: string; judge?: string; seed: string }, command: Command) => {
        const { quickstart } = await import("./quickstart.js");
        const db = givenStoreLocation(command);
        await quickstart({
          out: options.out,
          fast: options.fast,
          seed: Number(options.seed),
          ...(options.policy ? { policy: options.policy } : {}),
          ...(options.critic ? { critic: options.critic } : {}),
          ...(options.judge ? { judge: options.judge } : {}),
          ...(db ? { db } : {}),
        });
      },
    );

  program
    .command("serve")
    .description("serve a local model over an OpenAI-compatible HTTP API (/v1/models, /v1/completions, /v1/chat/completions)")
    .requiredOption("--model <dir>", "model directory, local:DIR or hf:Org/Name@revision")
    .addOption(
      new Option(
        "--backend <engine>",
        "what runs the model: wasm (built in) or llama (llama.cpp, the optional node-llama-cpp; converts to GGUF once)",
      )
        .choices(["wasm", "llama"])
        .default("wasm"),
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0: any free port)", port, 8000)
    .addOption(
      new Option(
        "--token <token>",
        "require Authorization: Bearer <token>; prefer the environment variable, as a --token shows in `ps` to every user",
      ).env("PRECEPT_SERVE_TOKEN"),
    )
    .option("--name <name>", "model name clients see (default: the directory name)")
    .option(
      "--allowed-hosts <names>",
      "comma-separated Host header names to answer besides localhost, 127.0.0.1, ::1 and --host (* for any); others get 403",
      list,
    )
    .option("--cors-origin <origins>", "comma-separated browser origins allowed to call the API (CORS; default: none)", list)
    .action(
      async (options: {
        model: string;
        backend: "wasm" | "llama";
        host: string;
        port: number;
        token?: string;
        name?: string;
        allowedHosts?: string[];
        corsOrigin?: string[];
      }) => {
        const { runServe } = await import("./serve.js");
        if (options.token && options.token !== process.env.PRECEPT_SERVE_TOKEN)
          console.warn("precept serve: note: a --token shows in `ps` to every user of this machine; set PRECEPT_SERVE_TOKEN instead");
        const { corsOrigin, ...rest } = options;
        await runServe({ ...rest, port: Number(options.port), ...(corsOrigin ? { corsOrigins: corsOrigin } : {}) });
      },
    );

  const constitution = program.command("constitution").description("check, read and compare constitutions (YAML or JSON)");
  constitution
    .command("lint")
    .description("validate constitution files; errors name the file, line and field")
    .argument("<files...>", "constitution files")
    .action(async (files: string[]) => (await import("./constitution.js")).lint(files));
  constitution
    .command("show")
    .description("print a constitution's principles, version and content hash")
    .argument("<file>", "constitution file")
    .action(async (file: string) => (await import("./constitution.js")).show(file));
  constitution
    .command("diff")
    .description("which principles were added, removed or changed, and (with --records) how many stored records used the changed ones")
    .argument("<a>", "the old constitution")
    .argument("<b>", "the new constitution")
    .option("--records", "count affected records in the store (--db)", false)
    .action(async (a: string, b: string, options: { records: boolean }, command: Command) =>
      (await import("./constitution.js")).diff(a, b, { ...options, db: storeLocation(command) }),
    );
  constitution
    .command("import")
    .description(
      "convert the Constitutional AI paper's files (a folder, or files recognized by their shape) into one constitution, prompt labels stripped",
    )
    .argument("[paths...]", "the paper's folder or any of its four JSON files")
    .option("--critique-revision <file>", "critique/revision instructions: JSON object of {prompt, edit_request} entries")
    .option("--multiple-choice <file>", "multiple-choice principles: JSON list of questions")
    .option("--critique-few-shot <file>", "critique/revision few-shot transcripts: JSON list of strings")
    .option("--comparison-few-shot <file>", "multiple-choice few-shot prompts: JSON list of {prompt, corrects, incorrects}")
    .requiredOption("--name <name>", "name of the new constitution")
    .requiredOption("--version <version>", "version of the new constitution")
    .requiredOption("--out <file>", "YAML file to write")
    .action(async (paths: string[], options: { name: string; version: string; out: string }) =>
      (await import("./constitution.js")).importFiles(paths, options),
    );

  const store = program.command("store").description("look into and move data in the store (--db)");
  store
    .command("export")
    .description("write a run's records of one kind as JSONL (TRL fields, plus provenance)")
    .requiredOption("--run <id>", "run id")
    .addOption(new Option("--kind <kind>", "record kind").choices(RECORD_KINDS).makeOptionMandatory())
    .requiredOption("--out <file>", "JSONL file to write")
    .option("--no-provenance", "leave out the provenance field")
    .action(async (options: { run: string; kind: string; out: string; provenance: boolean }, command: Command) => {
      const { openStore } = await import("../store/store.js");
      const { exportRecords } = await import("../store/jsonl.js");
      const db = await openStore(storeLocation(command));
      try {
        const n = await exportRecords(db, options.run, options.kind as never, options.out, { provenance: options.provenance });
        console.log(`wrote ${n} ${options.kind} record(s) of run ${options.run} to ${options.out}`);
      } finally {
        await db.close();
      }
    });
  store
    .command("runs")
    .description("list the runs in the store: id, kind, when it was created and its record counts by kind")
    .option("--json", "print the list as JSON", false)
    .action(async (options: { json: boolean }, command: Command) => {
      const { openStore } = await import("../store/store.js");
      const db = await openStore(storeLocation(command));
      try {
        const runs = await db.runs();
        if (options.json) console.log(JSON.stringify(runs, null, 2));
        else if (runs.length === 0) console.log("no runs in this store");
        else {
          console.log("run\tkind\tcreated (UTC)\trecords");
          for (const r of runs) {
            const counts = Object.entries(r.records).map(([k, n]) => `${n} ${k}`);
            const created = r.createdAt === null ? "-" : new Date(r.createdAt).toISOString().slice(0, 19).replace("T", " ");
            console.log(`${r.id}\t${r.kind ?? "-"}\t${created}\t${counts.join(", ") || "no records"}`);
          }
        }
      } finally {
        await db.close();
      }
    });
  store
    .command("import")
    .description("read JSONL rows into a run as records of one kind (a row already there is not added again)")
    .requiredOption("--run <id>", "run id")
    .addOption(new Option("--kind <kind>", "record kind").choices(RECORD_KINDS).makeOptionMandatory())
    .requiredOption("--in <file>", "JSONL file to read (.jsonl or .jsonl.gz)")
    .action(async (options: { run: string; kind: string; in: string }, command: Command) => {
      const { openStore } = await import("../store/store.js");
      const { importRecords } = await import("../store/jsonl.js");
      const db = await openStore(storeLocation(command));
      const ids = await importRecords(db, options.run, options.kind as never, options.in);
      await db.close();
      console.log(`stored ${ids.length} ${options.kind} record(s) in run ${options.run}`);
    });

  addTrainCommands(program, {
    sft: { description: "supervised fine-tuning on prompt-completion, messages or text JSONL", schema: sftConfigSchema, run: "runSft" },
    rm: {
      description:
        "train a reward model (Bradley-Terry) on preference JSONL or .jsonl.gz: {prompt, chosen, rejected}, or {chosen, rejected} transcripts sharing the prompt (HH-RLHF)",
      schema: rewardConfigSchema,
      run: "runReward",
    },
    dpo: {
      description: "direct preference optimization (sigmoid, cDPO, IPO) on preference JSONL or .jsonl.gz (explicit or implicit prompt)",
      schema: dpoConfigSchema,
      run: "runDpo",
    },
    "online-dpo": {
      description:
        "online DPO on prompt JSONL: two fresh samples per prompt, ranked by a reward model or by a judge provider applying a constitution (RLAIF without a labelling pass)",
      schema: onlineDpoConfigSchema,
      run: "runOnlineDpo",
    },
    kto: {
      description:
        "KTO on unpaired thumbs-up/down JSONL {prompt, completion, label: bool} (paired {prompt, chosen, rejected} rows are unpaired)",
      schema: ktoConfigSchema,
      run: "runKto",
    },
    orpo: {
      description: "ORPO (NLL + odds-ratio term, no reference model) on preference JSONL",
      schema: orpoConfigSchema,
      run: "runOrpo",
    },
    cpo: {
      description: "CPO (sigmoid, hinge, ipo or simpo loss + NLL, no reference model) on preference JSONL",
      schema: cpoConfigSchema,
      run: "runCpo",
    },
    simpo: {
      description: "SimPO (length-normalised margin with γ, no reference model; the CPO trainer with loss_type simpo) on preference JSONL",
      schema: simpoConfigSchema,
      run: "runCpo",
    },
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

  addDataCommands(program);
  addCaiCommands(program);
  addAnnotateCommands(program);
  addWorldCommands(program);
  addEvalCommands(program);
  addGenerateCommand(program);
  addGuardCommands(program);

  return program;
}

// Output piped into `head` and the like: stop quietly when the reader goes away.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

/** A `--version` before any command is Precept's own (`-V`); after one it is that command's option. */
function versionFlag(argv: string[]): string[] {
  const command = argv.findIndex((a, i) => i >= 2 && !a.startsWith("-"));
  return argv.map((a, i) => (a === "--version" && (command < 0 || i < command) ? "-V" : a));
}

buildProgram()
  .parseAsync(versionFlag(process.argv))
  .catch((error: unknown) => {
    console.error(`precept: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
