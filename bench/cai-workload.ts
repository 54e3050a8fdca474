/**
 * The CAI benches' workload, shared by bench/cai-probe.ts and bench/llama.ts: the sandbox world's
 * red-team prompts as a prompt file, and one timed pass of `cai revise` (1 round) then `cai label`
 * (2 responses) with one provider as policy and feedback model.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLabel, runRevise } from "../src/cai/pipeline.js";
import type { LoadedConstitution } from "../src/constitution/load.js";
import type { Provider } from "../src/providers/provider.js";
import type { Store } from "../src/store/store.js";
import { RED_TEAM_CATEGORIES, samplePrompts } from "../src/world/prompts.js";

/** Writes the first `count` red-team prompts (seed 0, train split) to `path` as `{"prompt": …}` lines; returns `path`. */
export function writeRedTeamPrompts(path: string, count: number): string {
  writeFileSync(
    path,
    samplePrompts({ seed: 0, split: "train", perCategory: count / RED_TEAM_CATEGORIES.length + 1, categories: RED_TEAM_CATEGORIES })
      .slice(0, count)
      .map((p) => JSON.stringify({ prompt: p.text }))
      .join("\n"),
  );
  return path;
}

/** What one pipeline did in a timed pass. */
export type TimedPipeline = { items: number; seconds: number; completionTokens: number };

/** `cai revise` then `cai label` on `prompts` in `store`, each timed on its own; outputs go under `scratch`, named by `tag`. */
export async function timeCaiPass(o: {
  store: Store;
  constitution: LoadedConstitution;
  prompts: string;
  provider: Provider;
  concurrency: number;
  scratch: string;
  tag: string;
}): Promise<{ revise: TimedPipeline; label: TimedPipeline }> {
  const common = { store: o.store, constitution: o.constitution, prompts: o.prompts, concurrency: o.concurrency, maxTokens: 48, seed: 0 };
  let started = performance.now();
  const revise = await runRevise({ ...common, policy: o.provider, revisions: 1, outDir: join(o.scratch, `${o.tag}-revise`) });
  const reviseSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const label = await runLabel({
    ...common,
    policy: o.provider,
    feedback: o.provider,
    responses: 2,
    temperature: 1,
    out: join(o.scratch, `${o.tag}-label.jsonl`),
  });
  const labelSeconds = (performance.now() - started) / 1000;
  return {
    revise: { items: revise.items.done, seconds: reviseSeconds, completionTokens: revise.tokens.completion },
    label: { items: label.items.done, seconds: labelSeconds, completionTokens: label.tokens.completion },
  };
}
