/** runRevise/runLabel take their settings from the pipelines' config schemas: omitted settings get the schema's defaults, bad ones are refused naming the field before any work. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ScriptedProvider } from "../../test/helpers/scripted-provider.js";
import { parseConstitution } from "../constitution/load.js";
import { openStore } from "../store/store.js";
import { labelConfigSchema, reviseConfigSchema } from "./configs.js";
import { runLabel, runRevise } from "./pipeline.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-cai-configs-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const constitution = parseConstitution(
  "name: t\nversion: '1'\nprinciples:\n  - {id: a, critique: Does it leak a number?, revision: Remove the number., compare: Which leaks less?}\n",
  "t.yaml",
);
const prompts = join(tmp, "p.jsonl");
writeFileSync(prompts, `${JSON.stringify({ prompt: "What is the support phone number?" })}\n`);

describe("CAI pipeline configs in the library", () => {
  it("omitted settings are the schema's defaults: the same run as passing them all explicitly", async () => {
    const store = await openStore(join(tmp, "defaults.sqlite"));
    try {
      const policy = new ScriptedProvider();
      const common = { store, constitution, policy, prompts, outDir: join(tmp, "revise") };
      const implicit = await runRevise(common);
      const explicit = await runRevise({ ...common, ...reviseConfigSchema.parse({}) });
      expect(explicit.run).toBe(implicit.run);
      // A changed setting is a different run (the id hashes the settings).
      expect((await runRevise({ ...common, maxTokens: 64 })).run).not.toBe(implicit.run);
      const out = join(tmp, "label", "preferences.jsonl");
      const labelled = await runLabel({ store, constitution, policy, feedback: policy, prompts, out });
      expect((await runLabel({ store, constitution, policy, feedback: policy, prompts, out, ...labelConfigSchema.parse({}) })).run).toBe(
        labelled.run,
      );
    } finally {
      await store.close();
    }
  });

  it("a bad setting is refused naming the pipeline and the field, before a run is registered", async () => {
    const store = await openStore(join(tmp, "bad.sqlite"));
    try {
      const policy = new ScriptedProvider();
      await expect(runRevise({ store, constitution, policy, prompts, outDir: join(tmp, "x"), concurrency: 0 })).rejects.toThrow(
        /^cai revise: concurrency: /,
      );
      await expect(
        runLabel({ store, constitution, feedback: policy, policy, prompts, out: join(tmp, "y.jsonl"), clamp: [0.7, 0.3] }),
      ).rejects.toThrow(/^cai label: clamp: expected LOW,HIGH with 0 <= LOW < HIGH <= 1/);
      expect(await store.runs()).toEqual([]);
      expect(policy.calls).toBe(0);
    } finally {
      await store.close();
    }
  });
});
