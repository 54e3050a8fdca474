/**
 * One process of the CAI bench: `cai revise` (1 critique → revision round) and
 * `cai label` on the sandbox world's red-team prompts with the shipped sandbox
 * model, with concurrency 1 (one item at a time) and 16 (concurrent items
 * coalesced into batched generate calls), each in a fresh SQLite store.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLabel, runRevise } from "../src/cai/pipeline.js";
import { loadConstitution } from "../src/constitution/load.js";
import { initEngine } from "../src/engine/device.js";
import { loadModel } from "../src/models/io.js";
import { BatchingProvider } from "../src/providers/batching.js";
import { LocalProvider } from "../src/providers/local.js";
import { SANDBOX_BASE, SANDBOX_CONSTITUTION } from "../src/recipes/sandbox.js";
import { openStore } from "../src/store/store.js";
import { RED_TEAM_CATEGORIES, samplePrompts } from "../src/world/prompts.js";

const PROMPTS = 48;
await initEngine();
const tmp = mkdtempSync(join(tmpdir(), "precept-bench-cai-"));
const prompts = join(tmp, "prompts.jsonl");
writeFileSync(
  prompts,
  samplePrompts({ seed: 0, split: "train", perCategory: PROMPTS / RED_TEAM_CATEGORIES.length + 1, categories: RED_TEAM_CATEGORIES })
    .slice(0, PROMPTS)
    .map((p) => JSON.stringify({ prompt: p.text }))
    .join("\n"),
);
const constitution = loadConstitution(SANDBOX_CONSTITUTION);
const model = await loadModel(SANDBOX_BASE);
const results: {
  pipeline: string;
  concurrency: number;
  items: number;
  seconds: number;
  itemsPerSecond: number;
  completionTokens: number;
}[] = [];
// Two passes; only the second is reported, so neither setting pays for compiling the kernels.
for (const [pass, concurrency] of [
  [0, 1],
  [0, 16],
  [1, 1],
  [1, 16],
] as const) {
  const provider = new BatchingProvider(new LocalProvider(model, "local:sandbox-base"), concurrency);
  const store = await openStore(join(tmp, `store-${pass}-${concurrency}.sqlite`));
  const common = { store, constitution, prompts, concurrency, maxTokens: 48, seed: 0 };
  let started = Date.now();
  const revise = await runRevise({ ...common, policy: provider, revisions: 1, outDir: join(tmp, `revise-${pass}-${concurrency}`) });
  let seconds = (Date.now() - started) / 1000;
  if (pass === 1)
    results.push({
      pipeline: "revise (1 round)",
      concurrency,
      items: revise.items.done,
      seconds,
      itemsPerSecond: revise.items.done / seconds,
      completionTokens: revise.tokens.completion,
    });
  started = Date.now();
  const label = await runLabel({
    ...common,
    policy: provider,
    feedback: provider,
    responses: 2,
    temperature: 1,
    out: join(tmp, `label-${pass}-${concurrency}.jsonl`),
  });
  seconds = (Date.now() - started) / 1000;
  if (pass === 1)
    results.push({
      pipeline: "label (2 responses)",
      concurrency,
      items: label.items.done,
      seconds,
      itemsPerSecond: label.items.done / seconds,
      completionTokens: label.tokens.completion,
    });
  await store.close();
}
rmSync(tmp, { recursive: true, force: true });
console.log(JSON.stringify({ prompts: PROMPTS, results }));
