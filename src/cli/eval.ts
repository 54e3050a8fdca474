/** `precept eval run|classify|compare`: argument parsing and printing; the work is in src/eval/. */
import { join } from "node:path";
import type { Command } from "commander";
import type { HubOptions } from "../eval/hub-datasets.js";
import type { Suite } from "../eval/suite.js";
import { itemProgress } from "./progress.js";
import { givenStoreLocation } from "./store-location.js";

const collect = (value: string, previous: string[]) => [...previous, value];

/** Where `hf:` dataset ids are looked up: the standard cache and the Hub's environment variables, read here at the edge. */
async function hubOptions(): Promise<HubOptions> {
  const { hubCacheDir } = await import("../models/hub.js");
  const token = process.env.HF_TOKEN;
  return {
    cacheDir: hubCacheDir(process.env),
    offline: ["1", "true", "yes"].includes((process.env.HF_HUB_OFFLINE ?? "").toLowerCase()),
    ...(token ? { token } : {}),
  };
}

type RunOptions = {
  model: string;
  suite: string[];
  judge?: string;
  constitution?: string;
  ref?: string;
  limit?: string;
  concurrency: string;
  maxTokens: string;
  seed: string;
  lease: string;
  out: string;
};

export function addEvalCommands(program: Command): void {
  const evaluation = program.command("eval").description("evaluate any model or provider on public benchmarks and your own prompts");
  evaluation
    .command("run")
    .description(
      "run suites (mc=FILE, prefs=FILE, xstest=FILE, harmful=FILE, prompts=FILE, sandbox) against a model; FILE is CSV, JSONL(.gz) or Parquet, or hf:OWNER/NAME[:SPLIT]; per-item JSONL, summary.json with 95% intervals and report.html in --out; rerun to continue after an interruption",
    )
    .requiredOption("--model <id>", "the model: local:DIR, hf:Org/Name, openai:MODEL, anthropic:MODEL")
    .option("--suite <spec>", "a suite, KIND=FILE or sandbox (repeatable; NAME:KIND=FILE names it)", collect, [])
    .option("--judge <id>", "a judge model (xstest, harmful, prompts)")
    .option("--constitution <file>", "the constitution the prompts suite judges against")
    .option("--ref <id>", "reference model: prefs scores DPO's implicit reward")
    .option("--limit <n>", "only the first N items of each suite")
    .option("--concurrency <n>", "items at once (a local model decodes them as one batch)", "8")
    .option("--max-tokens <n>", "tokens per generated response", "256")
    .option("--seed <n>", "seed", "0")
    .option("--lease <seconds>", "how long a killed process's claimed items wait before being retried", "600")
    .requiredOption("--out <dir>", "where results go (the store is <out>/precept.db unless --db is given)")
    .action(async (o: RunOptions, command: Command) => {
      if (o.suite.length === 0) throw new Error("give at least one --suite (e.g. --suite mc=hhh.jsonl)");
      const { initEngine } = await import("../engine/device.js");
      const { openProvider } = await import("../providers/open.js");
      const { BatchingProvider } = await import("../providers/batching.js");
      const { openStore } = await import("../store/store.js");
      const { loadConstitution } = await import("../constitution/load.js");
      const { runEvaluation, resolveSuiteSpec, suiteFromSpec } = await import("../eval/index.js");
      const hub = await hubOptions();
      const suites: Suite[] = [];
      for (const spec of o.suite) suites.push(suiteFromSpec(await resolveSuiteSpec(spec, hub)));
      await initEngine();
      const concurrency = Number(o.concurrency);
      const open = async (id: string) => new BatchingProvider(await openProvider(id), Math.max(1, concurrency));
      const model = await open(o.model);
      const judge = o.judge ? await open(o.judge) : undefined;
      const ref = o.ref ? await open(o.ref) : undefined;
      (await import("node:fs")).mkdirSync(o.out, { recursive: true });
      // --db (or PRECEPT_DB) when given, even the default's name; else <out>/precept.db.
      const store = await openStore(givenStoreLocation(command) ?? join(o.out, "precept.db"));
      const bars = new Map<string, ReturnType<typeof itemProgress>>();
      const bar = (suite: string) => {
        let b = bars.get(suite);
        if (!b) {
          for (const other of bars.values()) other.stop();
          b = itemProgress(`eval ${suite}`);
          bars.set(suite, b);
        }
        return b;
      };
      try {
        const summary = await runEvaluation(
          suites,
          {
            model,
            ...(judge ? { judge } : {}),
            ...(ref ? { ref } : {}),
            ...(o.constitution ? { constitution: loadConstitution(o.constitution) } : {}),
            maxTokens: Number(o.maxTokens),
            seed: Number(o.seed),
          },
          {
            store,
            out: o.out,
            concurrency,
            leaseMs: Number(o.lease) * 1000,
            ...(o.limit ? { limit: Number(o.limit) } : {}),
            onProgress: (suite, p) => bar(suite).onProgress(p),
            onWait: (suite, n) => bar(suite).onWait(n),
          },
        );
        for (const b of bars.values()) b.stop();
        for (const [name, s] of Object.entries(summary.suites)) console.log(`${name}: ${headline(s)}`);
        console.log(`wrote ${join(o.out, "summary.json")}`);
      } finally {
        for (const b of bars.values()) b.stop();
        await store.close();
        for (const p of [model, judge, ref]) p?.close?.();
      }
    });

  evaluation
    .command("classify")
    .description("label existing responses (CSV or JSONL) full_compliance / full_refusal / partial_refusal, one output row per input row")
    .requiredOption("--input <file>", "CSV, JSONL or Parquet file of responses, or an hf:OWNER/NAME[:SPLIT] dataset")
    .requiredOption("--text-field <name>", "the field holding the response")
    .option("--prompt-field <name>", "the field holding the prompt (for --judge)", "prompt")
    .option("--judge <id>", "also label with a judge model (XSTest's rubric)")
    .option(
      "--label-field <name>",
      "a column of human labels (full_compliance/full_refusal/partial_refusal or refusal/compliance): report agreement with them",
    )
    .option("--agreement <file>", "with --label-field, also write the agreement figures as JSON")
    .requiredOption("--out <file>", "JSONL file to write (the row's fields plus refusal, refusal_reason[, refusal_judge])")
    .action(
      async (o: {
        input: string;
        textField: string;
        promptField: string;
        judge?: string;
        labelField?: string;
        agreement?: string;
        out: string;
      }) => {
        const { classifyFile } = await import("../eval/classify.js");
        let judge: import("../providers/provider.js").Provider | undefined;
        if (o.judge) {
          await (await import("../engine/device.js")).initEngine();
          judge = await (await import("../providers/open.js")).openProvider(o.judge);
        }
        const { judge: _id, agreement: agreementFile, ...files } = o;
        const { isHubDataset, resolveDataset } = await import("../eval/hub-datasets.js");
        if (isHubDataset(files.input)) files.input = await resolveDataset(files.input, await hubOptions());
        const { rows, counts, agreement } = await classifyFile({ ...files, ...(judge ? { judge } : {}) });
        judge?.close?.();
        console.log(`classified ${rows} row(s): ${JSON.stringify(counts)}; wrote ${o.out}`);
        for (const [name, a] of Object.entries(agreement ?? {}))
          console.log(
            `agreement with ${o.labelField} (${a.n} rows), ${name}: binary ${a.binary.rate.toFixed(3)} [${a.binary.ci95.map((x) => x.toFixed(3)).join(", ")}], kappa ${a.kappa.toFixed(3)}${a.exact.n > 0 ? `, 3-class ${a.exact.rate.toFixed(3)} of ${a.exact.n}` : ""}; missed refusals ${a.confusion.refusalAsCompliance}, false refusals ${a.confusion.complianceAsRefusal}`,
          );
        if (agreementFile && agreement) (await import("node:fs")).writeFileSync(agreementFile, `${JSON.stringify(agreement, null, 2)}\n`);
      },
    );

  evaluation
    .command("compare")
    .description(
      "paired comparison of two eval runs on the same items (McNemar's exact test, paired bootstrap interval): is the difference significant?",
    )
    .argument("<dirA>", "the first run's --out folder")
    .argument("<dirB>", "the second run's --out folder")
    .option("--json <file>", "also write the comparison as JSON")
    .option(
      "--html <file>",
      "also write a page: the paired tests and every per-group rate (e.g. refusal by XSTest type) of both models side by side",
    )
    .action(async (a: string, b: string, o: { json?: string; html?: string }) => {
      const { compareRuns, comparisonLines } = await import("../eval/compare.js");
      const { writeFileSync } = await import("node:fs");
      const comparison = compareRuns(a, b);
      for (const line of comparisonLines(comparison)) console.log(line);
      if (o.json) writeFileSync(o.json, `${JSON.stringify(comparison, null, 2)}\n`);
      if (o.html) writeFileSync(o.html, (await import("../eval/compare-report.js")).renderComparisonReport(a, b, comparison));
    });
}

/** One line per suite: its main figure with the interval, n and skipped. */
function headline(s: Record<string, unknown>): string {
  const ci = (x: unknown) => (Array.isArray(x) ? ` [${x.map((v: number) => v.toFixed(3)).join(", ")}]` : "");
  const main = ["accuracy", "refusalRate", "attackSuccessRate", "violationRate"].find((k) => typeof s[k] === "number");
  const figure = main ? `${main} ${(s[main] as number).toFixed(3)}${ci(s.ci95)}` : "";
  return `${figure} n=${s.n} skipped=${s.skipped}`;
}
