/**
 * `precept guard`: the constitution enforced at run time in front of a model (an OpenAI-compatible
 * proxy), and `precept guard export --flagged`, the loop back to annotation and the next round of
 * SL-CAI. Argument parsing and printing only; the work is in src/guard/.
 */
import { type Command, Option } from "commander";
import { intIn, numberIn } from "./numbers.js";
import { storeLocation } from "./store-location.js";

type GuardOptions = {
  constitution: string;
  policy?: string;
  mode?: "block" | "revise" | "flag";
  upstream?: string;
  model?: string;
  upstreamToken?: string;
  token?: string;
  judge?: string;
  classifier?: string;
  critic?: string;
  storeText: "none" | "redacted" | "full";
  run: string;
  host: string;
  port: number;
  timeout: number;
  retries: number;
  maxConcurrent: number;
  maxQueue: number;
  rateLimit?: number;
  maxBodyBytes: number;
};

const count = intIn({ min: 1 });
const whole = intIn({ min: 0 });

async function runGuard(options: GuardOptions, command: Command): Promise<void> {
  if (!options.upstream === !options.model) throw new Error("give the model behind the guard: --upstream URL or --model DIR (one of them)");
  const { guardPolicy, startGuard } = await import("../guard/start.js");
  guardPolicy(options.constitution, options.policy, options.mode); // a wrong file fails before any model loads
  const { Upstream } = await import("../guard/upstream.js");
  const { openProvider } = await import("../providers/open.js");
  const { openStore } = await import("../store/store.js");
  let upstream: InstanceType<typeof Upstream>;
  if (options.model) {
    // In-process: precept serve's own app answers the guard's requests, without a socket.
    const { initEngine } = await import("../engine/device.js");
    const { loadModel } = await import("../models/io.js");
    const { createOpenAiApp } = await import("../server/openai.js");
    await initEngine();
    const model = await loadModel(options.model);
    const name = options.model.replace(/\/+$/, "").split("/").pop() ?? "model";
    const app = createOpenAiApp({ model, name, allowedHosts: ["*"] });
    upstream = new Upstream({ baseUrl: "http://in-process/v1", timeoutMs: options.timeout, retries: 0, fetch: (r) => app.fetch(r) });
  } else {
    upstream = new Upstream({
      baseUrl: options.upstream as string,
      timeoutMs: options.timeout,
      retries: options.retries,
      ...(options.upstreamToken ? { token: options.upstreamToken } : {}),
    });
  }
  const judge = options.judge ? await openProvider(options.judge) : undefined;
  const classifier = options.classifier
    ? await (await import("../guard/trained.js")).TrainedClassifier.load(options.classifier)
    : undefined;
  const critic = options.critic ? await openProvider(options.critic) : undefined;
  const db = storeLocation(command);
  const store = await openStore(db);
  const guard = await startGuard({
    constitution: options.constitution,
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.mode ? { mode: options.mode } : {}),
    upstream,
    ...(judge ? { judge } : {}),
    ...(classifier ? { classifier } : {}),
    ...(critic ? { critic } : {}),
    store,
    run: options.run,
    storeText: options.storeText,
    host: options.host,
    port: options.port,
    processMetrics: true,
    ...(options.token ? { token: options.token } : {}),
    maxBodyBytes: options.maxBodyBytes,
    maxConcurrent: options.maxConcurrent,
    maxQueue: options.maxQueue,
    ...(options.rateLimit ? { rateLimitPerMinute: options.rateLimit } : {}),
  });
  console.log(`precept guard: http://${options.host}:${guard.port}/v1 in front of ${upstream.baseUrl} (${guard.policy.constitution.name})`);
  for (const p of guard.policy.principles)
    console.log(
      `  ${p.principle.id}: ${p.mode} on ${p.stages.join(" and ")}, ${p.patterns.length} patterns${judge ? `, judge ${judge.id}` : ""}, threshold ${p.threshold}`,
    );
  console.log(`  decisions: run "${options.run}" in ${db}, texts ${options.storeText}; /metrics and /health beside /v1`);
  const stop = async () => {
    console.log("precept guard: stopping: no new requests; open streams finish first");
    await guard.close();
    await store?.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

type TrainOptions = {
  baseModel: string;
  data?: string;
  sandbox: boolean;
  generate: boolean;
  provider?: string;
  prompts?: string;
  lookAlikes?: string;
  constitution?: string;
  run: string;
  perCategory: number;
  principles?: string;
  out: string;
  targetFpr: number;
  heldOut: number;
  epochs: number;
  seed: number;
};

/** `--generate`: labelled replies from the constitution, written by a provider and kept in the store (a rerun continues). */
async function generatedExamples(options: TrainOptions, location: string) {
  if (!options.provider || !options.prompts || !options.constitution)
    throw new Error("--generate needs --provider ID (who writes the replies), --prompts FILE and --constitution FILE");
  const { loadConstitution } = await import("../constitution/load.js");
  const { generateExamples, readPrompts } = await import("../guard/generate-examples.js");
  const { openProvider } = await import("../providers/open.js");
  const { openStore } = await import("../store/store.js");
  const constitution = loadConstitution(options.constitution);
  const prompts = await readPrompts(options.prompts);
  const lookAlikes = options.lookAlikes ? await readPrompts(options.lookAlikes) : [];
  const store = await openStore(location);
  // No response cache: the stored replies are what a rerun reuses, and an empty reply must be asked for again.
  const provider = await openProvider(options.provider);
  try {
    console.log(
      `precept guard train: asking ${provider.id} for a violating and a compliant reply per principle and prompt (${prompts.length} prompts), and a helpful reply to each of ${lookAlikes.length} harmless look-alikes`,
    );
    const r = await generateExamples({
      constitution,
      constitutionHash: constitution.hash,
      provider,
      prompts,
      lookAlikes,
      store,
      run: options.run,
      ...(options.principles ? { principles: options.principles.split(",").map((s) => s.trim()) } : {}),
      sampling: { seed: options.seed },
      log: console.log,
    });
    console.log(
      `  run "${options.run}" in ${location}: ${r.generated} replies generated now, ${r.reused} kept from before${r.empty > 0 ? `, ${r.empty} empty (WARN: not used; try another --provider, or run again)` : ""}`,
    );
    return r.examples;
  } finally {
    provider.close?.();
    await store.close();
  }
}

async function runTrain(options: TrainOptions, command: Command): Promise<void> {
  if ([options.data, options.sandbox, options.generate].filter(Boolean).length !== 1)
    throw new Error("give the labelled examples: --data FILE, --sandbox or --generate (one of them)");
  const { trainGuardClassifier, readLabelledExamples } = await import("../guard/train.js");
  let examples = options.data
    ? await readLabelledExamples(options.data)
    : options.generate
      ? await generatedExamples(options, storeLocation(command))
      : (await import("../guard/sandbox-examples.js")).sandboxExamples({ perCategory: options.perCategory, seed: options.seed });
  if (options.principles) {
    const keep = new Set(options.principles.split(",").map((s) => s.trim()));
    examples = examples.filter((e) => keep.has(e.principle));
  }
  const { initEngine } = await import("../engine/device.js");
  await initEngine();
  console.log(`precept guard train: ${examples.length} labelled replies; target false-positive rate ${options.targetFpr}`);
  const manifest = await trainGuardClassifier({
    baseModel: options.baseModel,
    examples,
    outDir: options.out,
    targetFalsePositiveRate: options.targetFpr,
    heldOut: options.heldOut,
    epochs: options.epochs,
    seed: options.seed,
    log: console.log,
  });
  console.log(
    `wrote ${options.out}/guard-classifier.json (${Object.keys(manifest.principles).length} principles); use it with precept guard --classifier ${options.out}`,
  );
}

type ExportOptions = {
  run: string;
  campaign?: string;
  prompts?: string;
  out?: string;
  overlap: number;
  refusal?: string;
  reviewed?: string;
  labels?: string;
};

/** `--reviewed CAMPAIGN --labels FILE`: people's verdicts on flags as `guard train --data` rows. */
async function exportReviewed(campaignName: string, labels: string, location: string): Promise<void> {
  const { openStore } = await import("../store/store.js");
  const { findCampaign } = await import("../feedback/campaign.js");
  const { reviewedLabels } = await import("../guard/reviewed.js");
  const { writeFlagged } = await import("../guard/export.js");
  const store = await openStore(location);
  try {
    const campaign = await findCampaign(store, campaignName);
    if (!campaign)
      throw new Error(`no campaign "${campaignName}" (list them in the annotate dashboard, or create one with guard export --campaign)`);
    const r = await reviewedLabels(store, campaign);
    writeFlagged(labels, r.rows);
    console.log(
      `precept guard export: campaign "${campaign.name}": ${r.confirmed} flags confirmed, ${r.rejected} rejected, ${r.undecided} undecided; ${labels}: ${r.rows.length} labelled rows for precept guard train --data`,
    );
  } finally {
    await store.close();
  }
}

async function runExport(options: ExportOptions, command: Command): Promise<void> {
  if (options.reviewed || options.labels) {
    if (!options.reviewed || !options.labels) throw new Error("--reviewed CAMPAIGN and --labels FILE go together");
    return exportReviewed(options.reviewed, options.labels, storeLocation(command));
  }
  if (!options.campaign && !options.prompts && !options.out)
    throw new Error("say where the flagged requests go: --campaign NAME (annotation), --prompts FILE (for cai revise), --out FILE (JSONL)");
  const { openStore } = await import("../store/store.js");
  const { flaggedCampaign, flaggedRequests, writeFlagged, writePrompts } = await import("../guard/export.js");
  const { policySchema } = await import("../guard/policy.js");
  const store = await openStore(storeLocation(command));
  try {
    const flagged = await flaggedRequests(store, options.run);
    console.log(`precept guard export: ${flagged.length} flagged requests in run "${options.run}"`);
    if (options.out) {
      writeFlagged(options.out, flagged);
      console.log(`  ${options.out}: one row per flagged request`);
    }
    if (options.prompts) {
      const n = writePrompts(options.prompts, flagged);
      console.log(`  ${options.prompts}: ${n} prompts; next round: precept cai revise --prompts ${options.prompts} ...`);
    }
    if (options.campaign) {
      const { campaign, items } = await flaggedCampaign(store, options.campaign, flagged, {
        refusal: options.refusal ?? policySchema.parse({}).refusal,
        overlap: options.overlap,
        sourceRun: options.run,
      });
      console.log(
        `  campaign "${campaign.name}" (id ${campaign.id}): ${items} items; people pick the better reply: precept annotate serve`,
      );
    }
  } finally {
    await store.close();
  }
}

export function addGuardCommands(program: Command): void {
  const guard = program
    .command("guard")
    .description(
      "enforce a constitution at run time (precept guard [serve] ...), train its classifier (train), and send what it flagged back to annotation and training (export)",
    );
  guard
    .command("serve", { isDefault: true })
    .description(
      "an OpenAI-compatible proxy (/v1/chat/completions, /v1/completions, /v1/models, streaming) that screens requests and replies per principle (block, revise, flag) and stores every decision",
    )
    .requiredOption("--constitution <file>", "the constitution (YAML or JSON)")
    .option(
      "--policy <file>",
      "the guard policy: modes, stages, patterns and thresholds per principle, refusal, window (see policies/sandbox-guard.yaml)",
    )
    .addOption(new Option("--mode <mode>", "mode of every principle the policy gives none").choices(["block", "revise", "flag"]))
    .option(
      "--upstream <url>",
      "OpenAI-compatible server behind the guard, e.g. http://127.0.0.1:8000/v1 (vLLM, Ollama, llama.cpp, precept serve)",
    )
    .option("--model <dir>", "or a model directory run in this process")
    .addOption(new Option("--upstream-token <token>", "bearer token for the upstream").env("PRECEPT_GUARD_UPSTREAM_TOKEN"))
    .addOption(new Option("--token <token>", "require clients to send Authorization: Bearer <token>").env("PRECEPT_GUARD_TOKEN"))
    .option(
      "--judge <provider>",
      "judge provider asked per principle (yes/no, from log-probs where it can score): local:DIR, openai:MODEL, ...",
    )
    .option("--classifier <dir>", "a classifier from precept guard train: scores replies for the principles it has heads for")
    .option("--critic <provider>", "provider that critiques and rewrites replies in revise mode")
    .addOption(
      new Option("--store-text <what>", "texts kept with broken-principle decisions (redacted: the policy's patterns hidden)")
        .choices(["none", "redacted", "full"])
        .default("redacted"),
    )
    .option("--run <id>", "the store run decisions go to", "guard")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0: any free port)", whole, 8100)
    .option("--timeout <ms>", "upstream timeout per attempt, and between chunks of a stream", count, 60_000)
    .option("--retries <n>", "upstream retries when no reply came (refused, 5xx, timeout)", whole, 2)
    .option("--max-concurrent <n>", "upstream requests in flight at once", count, 16)
    .option("--max-queue <n>", "requests waiting for the upstream; more get 429", count, 256)
    .option("--rate-limit <n>", "requests per minute per client (by token, else address)", count)
    .option("--max-body-bytes <n>", "largest request body", count, 1 << 20)
    .action(runGuard);

  guard
    .command("train")
    .description(
      "train a classifier per principle (a reward-model head on a small model) from labelled replies; thresholds are set on held-out prompts for a target false-positive rate",
    )
    .requiredOption("--base-model <dir>", "the small model each principle's head sits on")
    .option("--data <file>", 'labelled JSONL rows {"principle", "prompt", "response", "violates": true|false}')
    .option(
      "--sandbox",
      "generate the examples from the sandbox world's train split (helpful-only vs aligned replies, harmless look-alikes)",
      false,
    )
    .option(
      "--generate",
      "generate the examples from the constitution: --provider writes a reply that breaks and one that keeps each principle, per prompt (stored; a rerun continues)",
      false,
    )
    .option("--provider <id>", "with --generate: who writes the replies (openai:MODEL, anthropic:MODEL, local:DIR, ...)")
    .option("--prompts <file>", 'with --generate: JSONL rows {"prompt": "..."}')
    .option(
      "--look-alikes <file>",
      'with --generate: JSONL rows {"prompt"} of harmless requests that sound like violations, answered helpfully as compliant examples',
    )
    .option("--constitution <file>", "with --generate: the constitution whose principles the replies break or keep")
    .option("--run <id>", "with --generate: the store run the replies are kept in", "guard-examples")
    .option("--per-category <n>", "with --sandbox: prompts per world category", count, 40)
    .option("--principles <ids>", "only these principles (comma-separated)")
    .requiredOption("--out <dir>", "where the heads and guard-classifier.json go")
    .option("--target-fpr <rate>", "largest share of held-out compliant replies flagged", numberIn({ min: 0, max: 1 }), 0.05)
    .option("--held-out <share>", "share of prompts held out for thresholds", numberIn({ min: 0, max: 1, exclusiveMin: true }), 0.3)
    .option("--epochs <n>", "epochs of reward-model training per principle", numberIn({ min: 0, exclusiveMin: true }), 3)
    .option("--seed <n>", "seed", whole, 0)
    .action(runTrain);

  guard
    .command("export")
    .description("the requests the guard flagged, to an annotation campaign, a prompt file for `cai revise`, or JSONL")
    .option("--flagged", "requests where a principle was found broken (the only selection for now)", true)
    .option("--run <id>", "the guard's run", "guard")
    .option("--campaign <name>", "create an annotation campaign: each item is the upstream's reply beside the guard's answer")
    .option("--prompts <file>", 'write {"prompt"} rows for precept cai revise --prompts')
    .option("--out <file>", "write one JSONL row per flagged request")
    .option("--overlap <n>", "annotators per campaign item", count, 1)
    .option(
      "--reviewed <campaign>",
      "instead: people's answers on a flagged-replies campaign, as labelled rows (confirmed flags: violates)",
    )
    .option("--labels <file>", 'with --reviewed: write {"principle", "prompt", "response", "violates"} rows for guard train --data')
    .option("--refusal <text>", "the guard's refusal, shown beside replies it let through (default: the policy default)")
    .action(runExport);
}
