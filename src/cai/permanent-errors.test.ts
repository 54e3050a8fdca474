/**
 * Errors that running again cannot fix are reported as permanent (not "run the same command
 * again"): a local model without a chat template asked in chat mode.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { parseConstitution } from "../constitution/load.js";
import { Rng } from "../engine/rng.js";
import { ByteTokenizer } from "../models/byte-tokenizer.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { CausalLM } from "../models/model.js";
import { LocalProvider } from "../providers/local.js";
import { openStore } from "../store/store.js";
import { runRevise } from "./pipeline.js";
import { isPermanent } from "./runner.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-permanent-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it("chat mode on a local model without a chat template fails each item once, as permanent, naming the fix", async () => {
  const tokenizer = new ByteTokenizer({ chatTemplate: null });
  const config = gpt2ConfigSchema.parse({ vocab_size: tokenizer.vocabSize, n_positions: 64, n_embd: 16, n_layer: 1, n_head: 2 });
  const model = new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(1)), tokenizer);
  const policy = new LocalProvider(model, "local:no-template");
  await expect(policy.chat([[{ role: "user", content: "hi" }]])).rejects.toSatisfy(isPermanent);
  const store = await openStore(join(tmp, "s.sqlite"));
  try {
    writeFileSync(join(tmp, "p.jsonl"), `${JSON.stringify({ prompt: "hello?" })}\n`);
    const constitution = parseConstitution(
      "name: t\nversion: '1'\nprinciples:\n  - {id: a, critique: Is it bad?, revision: Make it good., compare: Which is better?}\n",
      "t.yaml",
    );
    const summary = await runRevise({
      store,
      constitution,
      policy,
      prompts: join(tmp, "p.jsonl"),
      mode: "chat",
      retries: 3,
      outDir: join(tmp, "out"),
    });
    expect(summary.errors).toHaveLength(1);
    expect(summary.errors[0]?.permanent).toBe(true);
    expect(summary.errors[0]?.error).toMatch(/no chat template .*--mode completion/);
    // Held at once: no retries spent on it.
    expect(summary.calls).toBe(0);
  } finally {
    await store.close();
    model.dispose();
  }
});
