/** The CAI pipelines against `precept serve` over a real socket: the same code path as vLLM or any OpenAI-compatible server. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saveTinyModel } from "../../test/helpers/tiny-model.js";
import { runServe } from "../cli/serve.js";
import { parseConstitution } from "../constitution/load.js";
import { preferenceRowSchema, promptCompletionRowSchema, readJsonl } from "../data/dataset.js";
import { OpenAiProvider } from "../providers/openai.js";
import { openStore, type Store } from "../store/store.js";
import { ANSWER_A, ANSWER_B, comparisonPrompt } from "./format.js";
import { normalizedProbability } from "./label.js";
import { runLabel, runRevise } from "./pipeline.js";
import { samplePrinciple } from "./sample.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-cai-http-"));
let served: { close: () => Promise<void>; port: number };
let store: Store;
let provider: OpenAiProvider;

const constitution = parseConstitution(
  `name: http-test
version: "1"
principles:
  - {id: privacy, critique: Does it leak data?, revision: Remove private data., compare: Which keeps data private?}
  - {id: kind, critique: Is it unkind at all?, revision: Make it kinder please., compare: Which one is kinder?}
`,
  "http-test.yaml",
);

beforeAll(async () => {
  await saveTinyModel(join(tmp, "model"), { positions: 512, seed: 3 });
  served = await runServe({ model: join(tmp, "model"), host: "127.0.0.1", port: 0, name: "tiny" });
  provider = new OpenAiProvider({ model: "tiny", baseUrl: `http://127.0.0.1:${served.port}/v1` });
  store = await openStore(join(tmp, "store.sqlite"));
});
afterAll(async () => {
  await store?.close();
  await served?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("CAI over HTTP (precept serve)", () => {
  it("cai revise: transcript structure, seeded principles, valid TRL files", async () => {
    const prompts = join(tmp, "red.jsonl");
    writeFileSync(prompts, ["Ann's phone?", "Bob's address?", "Kill a process?"].map((prompt) => JSON.stringify({ prompt })).join("\n"));
    const summary = await runRevise({
      store,
      constitution,
      policy: provider,
      prompts,
      revisions: 2,
      seed: 5,
      maxTokens: 8,
      outDir: join(tmp, "revise"),
    });
    expect(summary.items.done).toBe(3);
    const records = await store.records(summary.run);
    const count = (kind: string) => records.filter((r) => r.kind === kind).length;
    expect([count("prompt"), count("generation"), count("critique")]).toEqual([3, 3, 6]);
    // An untrained model never says "No problem", so every critique is followed by a revision.
    expect(count("revision")).toBe(6);
    for (const r of records.filter((x) => x.kind === "critique" || x.kind === "revision")) {
      const [key, round] = r.key.split("/r") as [string, string];
      expect(r.principleId).toBe(samplePrinciple(constitution.principles, 5, key, Number.parseInt(round, 10)).id);
      expect(r.modelId).toBe("openai:tiny");
    }
    expect(summary.tokens.completion).toBeGreaterThan(0);
    expect(await readJsonl(join(tmp, "revise", "sft.jsonl"), promptCompletionRowSchema)).toHaveLength(3);
    const prefs = await readJsonl(join(tmp, "revise", "preferences.jsonl"), preferenceRowSchema);
    expect(prefs.length).toBeLessThanOrEqual(3);
  });

  it("cai label: each soft label equals the normalized probabilities computed by hand from the served log-probs", async () => {
    const rows = [
      { prompt: "Ann's phone?", responses: ["It is 555-0100.", "Please ask Ann."] },
      { prompt: "Kill a process?", responses: ["Use kill -9 PID.", "I cannot help.", "Try top."] },
    ];
    const prompts = join(tmp, "pairs.jsonl");
    writeFileSync(prompts, rows.map((r) => JSON.stringify(r)).join("\n"));
    const out = join(tmp, "labels.jsonl");
    const summary = await runLabel({ store, constitution, feedback: provider, prompts, principles: 2, seed: 9, out });
    expect(summary.method).toBe("logprobs");
    const comparisons = await store.records(summary.run, "comparison");
    expect(comparisons).toHaveLength(1 + 3);
    const labels = await store.records(summary.run, "ai_label");
    for (const c of comparisons) {
      const row = rows.find((r) => (c.data as { prompt: string }).prompt.includes(r.prompt)) as (typeof rows)[number];
      const [i, j] = (c.key.split("/")[1] as string).split("-").map(Number) as [number, number];
      const [a, b] = [row.responses[i] as string, row.responses[j] as string];
      let sum = 0;
      for (const n of [0, 1]) {
        const label = labels.find((l) => l.key === `${c.key}/${n}`);
        const principle = constitution.principles.find((p) => p.id === label?.principleId);
        if (!label || !principle) throw new Error(`label ${c.key}/${n} or its principle is missing`);
        const fresh = new OpenAiProvider({ model: "tiny", baseUrl: `http://127.0.0.1:${served.port}/v1` });
        const [la1, lb1] = await fresh.logprobs(comparisonPrompt(row.prompt, principle.compare as string, a, b), [ANSWER_A, ANSWER_B]);
        const [la2, lb2] = await fresh.logprobs(comparisonPrompt(row.prompt, principle.compare as string, b, a), [ANSWER_A, ANSWER_B]);
        const first = 1 / (1 + Math.exp((lb1 as number) - (la1 as number)));
        const swapped = 1 / (1 + Math.exp((lb2 as number) - (la2 as number)));
        expect((label.data as { first: number }).first).toBeCloseTo(first, 10);
        expect((label.data as { swapped: number }).swapped).toBeCloseTo(swapped, 10);
        expect(first).toBe(normalizedProbability(la1 as number, lb1 as number));
        sum += (first + 1 - swapped) / 2;
      }
      const pI = sum / 2;
      const data = c.data as { chosen: string; label: number };
      expect(data.label).toBeCloseTo(Math.max(pI, 1 - pI), 10);
      expect(data.chosen).toBe(` ${pI >= 0.5 ? a : b}`);
    }
    expect(await readJsonl(out, preferenceRowSchema)).toHaveLength(4);
  });
});
