/**
 * One process of the CAI bench: `cai revise` (1 critique → revision round) and
 * `cai label` on the sandbox world's red-team prompts with the shipped sandbox
 * model, with concurrency 1 (one item at a time) and 16 (concurrent items
 * coalesced into batched generate calls), each in a fresh SQLite store.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConstitution } from "../src/constitution/load.js";
import { initEngine } from "../src/engine/device.js";
import { loadModel } from "../src/models/io.js";
import { BatchingProvider } from "../src/providers/batching.js";
import { LocalProvider } from "../src/providers/local.js";
import { SANDBOX_BASE, SANDBOX_CONSTITUTION } from "../src/recipes/sandbox.js";
import { openStore } from "../src/store/store.js";
import { timeCaiPass, writeRedTeamPrompts } from "./cai-workload.js";

const PROMPTS = 48;
await initEngine();
const tmp = mkdtempSync(join(tmpdir(), "precept-bench-cai-"));
const prompts = writeRedTeamPrompts(join(tmp, "prompts.jsonl"), PROMPTS);
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
  const timed = await timeCaiPass({ store, constitution, prompts, provider, concurrency, scratch: tmp, tag: `${pass}-${concurrency}` });
  if (pass === 1)
    for (const [pipeline, t] of [
      ["revise (1 round)", timed.revise],
      ["label (2 responses)", timed.label],
    ] as const)
      results.push({
        pipeline,
        concurrency,
        items: t.items,
        seconds: t.seconds,
        itemsPerSecond: t.items / t.seconds,
        completionTokens: t.completionTokens,
      });
  await store.close();
}
rmSync(tmp, { recursive: true, force: true });
console.log(JSON.stringify({ prompts: PROMPTS, results }));
