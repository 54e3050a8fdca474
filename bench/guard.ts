/**
 * `npm run bench -- guard`: what `precept guard` does in the sandbox, measured with the gold judge
 * (src/world/judge.ts) on held-out (eval split) world prompts: the base model direct, then through the
 * guard with the sandbox policy's patterns, with a judge provider (the sandbox base model itself,
 * asked per principle and read from log-probs), with the trained classifier (`precept guard train
 * --sandbox`: trained on the world's train split), and with patterns and the trained classifier together. Reports harmful replies (any harm rule broken) and
 * refusals of harmless-but-scary prompts, per configuration, plus the latency a guard adds per request
 * (p50/p95, one client) and throughput (4 clients) against the upstream direct. Writes
 * bench/results/guard.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { runServe } from "../src/cli/serve.js";
import { sandboxExamples } from "../src/guard/sandbox-examples.js";
import { type RunningGuard, startGuard } from "../src/guard/start.js";
import { trainGuardClassifier } from "../src/guard/train.js";
import { TrainedClassifier } from "../src/guard/trained.js";
import { Upstream } from "../src/guard/upstream.js";
import { loadModel } from "../src/models/io.js";
import { LocalProvider } from "../src/providers/local.js";
import { openStore } from "../src/store/store.js";
import { HARM_RULES, judge } from "../src/world/judge.js";
import { samplePrompts, type WorldPrompt } from "../src/world/prompts.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MODEL = join(ROOT, "models/sandbox-base");
const MAX_TOKENS = 40;

type Rates = {
  prompts: number;
  harmful: number;
  harmfulRate: number;
  byRule: Record<string, number>;
  scary: number;
  scaryRefused: number;
  scaryRefusalRate: number;
  /** Refusals of any request that should be answered (everyday, scary-but-harmless, policy, medical): the gold judge's evasive. */
  evasive: number;
};
type Speed = { p50Ms: number; p95Ms: number; requestsPerSecond: number };

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

async function replies(
  client: OpenAI,
  prompts: WorldPrompt[],
  concurrency: number,
): Promise<{ texts: string[]; ms: number[]; seconds: number }> {
  const texts: string[] = new Array(prompts.length);
  const ms: number[] = new Array(prompts.length);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < prompts.length) {
        const i = next++;
        const t = performance.now();
        const chat = await client.chat.completions.create({
          model: "sandbox-base",
          messages: [{ role: "user", content: (prompts[i] as WorldPrompt).text }],
          temperature: 0,
          max_tokens: MAX_TOKENS,
        });
        ms[i] = performance.now() - t;
        texts[i] = chat.choices[0]?.message.content ?? "";
      }
    }),
  );
  return { texts, ms, seconds: (performance.now() - started) / 1000 };
}

function rates(prompts: WorldPrompt[], texts: string[]): Rates {
  const byRule: Record<string, number> = Object.fromEntries(HARM_RULES.map((r) => [r, 0]));
  let harmful = 0;
  let scary = 0;
  let scaryRefused = 0;
  let evasive = 0;
  prompts.forEach((p, i) => {
    const j = judge(p, texts[i] ?? "");
    if (j.harmful) harmful++;
    if (j.evasive) evasive++;
    for (const r of HARM_RULES) if (j.violations[r]) byRule[r] = (byRule[r] ?? 0) + 1;
    if (p.category === "scary_harmless") {
      scary++;
      if (j.refusal) scaryRefused++;
    }
  });
  return {
    prompts: prompts.length,
    harmful,
    harmfulRate: harmful / prompts.length,
    byRule,
    scary,
    scaryRefused,
    scaryRefusalRate: scary ? scaryRefused / scary : 0,
    evasive,
  };
}

export async function runGuardBench(): Promise<void> {
  const threads = availableParallelism();
  const perCategory = Number(process.env.GUARD_BENCH_PER_CATEGORY ?? 10);
  console.log(
    `guard bench: ${cpus()[0]?.model ?? "cpu"}, ${threads} threads, Node ${process.version}; models/sandbox-base, ${perCategory} eval prompts per category, ${MAX_TOKENS} new tokens, greedy (numbers under the load of a shared machine)`,
  );
  const tmp = mkdtempSync(join(tmpdir(), "precept-guard-bench-"));
  const serve = await runServe({ model: MODEL, host: "127.0.0.1", port: 0, name: "sandbox-base" });
  const store = await openStore(join(tmp, "guard.db"));
  const judgeModel = new LocalProvider(await loadModel(MODEL), "local:models/sandbox-base");
  const judgePolicy = join(tmp, "judge-policy.yaml");
  // The judge screens replies against the five harm principles (input screening by a judge is left out: it doubles the cost).
  writeFileSync(
    judgePolicy,
    `mode: block\nprinciples:\n${["no-pii", "no-harm", "medical-care", "cite-policy", "fair-moderation"].map((id) => `  ${id}: { stages: [output] }\n`).join("")}`,
  );
  const harmPrinciples = ["no-pii", "no-harm", "medical-care", "cite-policy", "fair-moderation"];
  // A classifier trained on the world's train split (GUARD_BENCH_CLASSIFIER: one trained before, e.g. by precept guard train --sandbox).
  let classifierDir = process.env.GUARD_BENCH_CLASSIFIER;
  if (!classifierDir) {
    classifierDir = join(tmp, "classifier");
    console.log("  training the guard classifier (5 principles, world train split)");
    await trainGuardClassifier({
      baseModel: MODEL,
      examples: sandboxExamples({ perCategory: 40 }),
      outDir: classifierDir,
      targetFalsePositiveRate: 0.05,
    });
  }
  const classifier = await TrainedClassifier.load(classifierDir);
  const trainedPolicy = join(tmp, "trained-policy.yaml");
  writeFileSync(trainedPolicy, `mode: block\nprinciples:\n${harmPrinciples.map((id) => `  ${id}: { stages: [output] }\n`).join("")}`);
  const combinedPolicy = join(tmp, "combined-policy.yaml");
  writeFileSync(
    combinedPolicy,
    `${readFileSync(join(ROOT, "policies/sandbox-guard.yaml"), "utf8")}${["medical-care", "cite-policy", "fair-moderation"].map((id) => `  ${id}: { stages: [output] }\n`).join("")}`,
  );
  const guards: Record<string, RunningGuard> = {};
  try {
    const upstream = () => new Upstream({ baseUrl: `http://127.0.0.1:${serve.port}/v1`, timeoutMs: 120_000, retries: 0 });
    const common = {
      constitution: join(ROOT, "constitutions/sandbox.yaml"),
      store,
      storeText: "redacted" as const,
      host: "127.0.0.1",
      port: 0,
      log: () => {},
    };
    guards.patterns = await startGuard({
      ...common,
      policy: join(ROOT, "policies/sandbox-guard.yaml"),
      upstream: upstream(),
      run: "bench-patterns",
    });
    guards.judge = await startGuard({ ...common, policy: judgePolicy, upstream: upstream(), judge: judgeModel, run: "bench-judge" });
    guards.trained = await startGuard({ ...common, policy: trainedPolicy, upstream: upstream(), classifier, run: "bench-trained" });
    guards.combined = await startGuard({ ...common, policy: combinedPolicy, upstream: upstream(), classifier, run: "bench-combined" });
    const prompts = samplePrompts({ seed: 0, split: "eval", perCategory });
    const client = (port: number) => new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "x", maxRetries: 0, timeout: 600_000 });

    // Warm-up: the first requests compile the model's shape buckets; no configuration should pay for that.
    await replies(client(serve.port), prompts, 1);
    const efficacy: Record<string, Rates> = {};
    const speed: Record<string, Speed> = {};
    for (const [name, port] of [
      ["direct", serve.port],
      ["guard (patterns)", guards.patterns.port],
      ["guard (judge provider)", guards.judge.port],
      ["guard (trained classifier)", guards.trained.port],
      ["guard (patterns + trained)", guards.combined.port],
    ] as const) {
      const one = await replies(client(port), prompts, 1);
      efficacy[name] = rates(prompts, one.texts);
      const four = await replies(client(port), prompts, 4);
      speed[name] = { p50Ms: quantile(one.ms, 0.5), p95Ms: quantile(one.ms, 0.95), requestsPerSecond: prompts.length / four.seconds };
      console.log(`  ${name}: done`);
    }
    const direct = efficacy.direct as Rates;
    console.log(
      "\n| configuration | harmful replies | relative to direct | scary-but-harmless refused | should-answer refused | p50 ms | p95 ms | requests/s (4 clients) |\n|---|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const [name, r] of Object.entries(efficacy)) {
      const s = speed[name] as Speed;
      const drop = direct.harmful ? `${(((direct.harmful - r.harmful) / direct.harmful) * -100).toFixed(0)}%` : "n/a";
      console.log(
        `| ${name} | ${r.harmful}/${r.prompts} | ${name === "direct" ? "" : drop} | ${r.scaryRefused}/${r.scary} | ${r.evasive} | ${s.p50Ms.toFixed(0)} | ${s.p95Ms.toFixed(0)} | ${s.requestsPerSecond.toFixed(2)} |`,
      );
    }
    console.log("\nharm rules broken (gold judge):");
    for (const [name, r] of Object.entries(efficacy)) console.log(`  ${name}: ${JSON.stringify(r.byRule)}`);
    const dir = fileURLToPath(new URL("./results/", import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      `${dir}guard.json`,
      `${JSON.stringify({ suite: "guard", date: new Date().toISOString(), threads, node: process.version, load: "shared machine, other jobs running", perCategory, maxTokens: MAX_TOKENS, classifier: classifier.manifest, efficacy, speed }, null, 2)}\n`,
    );
    console.log("\nwrote bench/results/guard.json");
  } finally {
    for (const g of Object.values(guards)) await g.close();
    await serve.close();
    judgeModel.close();
    classifier.close();
    await store.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
