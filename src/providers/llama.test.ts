/**
 * The llama: provider against the wasm engine (the local provider) on the
 * same directories: the sandbox GPT-2 (byte-level BPE), the real stories260K
 * Llama (SentencePiece-style tokenizer; read from ../shared/real, never
 * copied) and small random Qwen2 and llama3-RoPE Llama models.
 *
 * Measured agreement (2 cores, llama.cpp CPU build of node-llama-cpp 3.21.1):
 * greedy tokens identical; log-probs within 5e-3 with llama.cpp's default F16
 * KV cache (checked at 1e-2) and within 2e-5 on Llama / 7e-4 on GPT-2 with
 * `kvCache: "f32"` (checked at 1e-4 / 2e-3; llama.cpp's GELU reads an F16 table).
 *
 * Skipped, with a message, when node-llama-cpp is not installed
 * (scripts/install-llama-cpp.sh installs it; .ci/run does).
 */
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../engine/device.js";
import { Rng } from "../engine/rng.js";
import { generateTokens } from "../models/generate.js";
import { loadModel, saveModel } from "../models/io.js";
import { CausalLM, parseModelConfig } from "../models/model.js";
import { scoreCompletions } from "../models/score.js";
import { loadTokenizer } from "../models/tokenizer.js";
import { hasNodeLlamaCpp, LlamaCppProvider } from "./llama.js";
import { LocalProvider } from "./local.js";
import { openProvider } from "./open.js";

const SANDBOX = new URL("../../models/sandbox-base/", import.meta.url).pathname;
const STORIES = new URL("../../../shared/real/models/stories260K/", import.meta.url).pathname;
const storiesPresent = existsSync(join(STORIES, "model.safetensors"));
const available = await hasNodeLlamaCpp();
if (!available) console.warn("llama: provider tests skipped: node-llama-cpp is not installed (run scripts/install-llama-cpp.sh)");
if (available && !storiesPresent) console.warn(`llama: stories260K tests skipped: ${STORIES} is absent (../shared/real)`);

const scratch = mkdtempSync(join(tmpdir(), "precept-llama-"));
const cacheDir = join(scratch, "gguf");
process.env.PRECEPT_GGUF_CACHE = cacheDir; // openProvider("llama:…") converts into it, not into ~/.cache
// One thread: these models are tiny, and llama.cpp's spinning workers crawl when the test runner shares the cores.
process.env.PRECEPT_LLAMA_THREADS = "1";
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(b.length).toBe(a.length);
  return Math.max(0, ...Array.from(a, (x, i) => Math.abs(x - (b[i] as number))));
};

/** A small random model of `config` with the sandbox tokenizer, saved as a Hugging Face directory. */
async function randomModel(name: string, config: Record<string, unknown>): Promise<string> {
  const { arch, config: parsed } = parseModelConfig(config);
  const model = new CausalLM(arch, parsed, arch.init(parsed, new Rng(7)), await loadTokenizer(SANDBOX));
  const dir = join(scratch, name);
  await saveModel(model, dir);
  model.dispose();
  return dir;
}

const llamaShape = {
  vocab_size: 1024,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 256,
};

describe.skipIf(!available)("llama: provider", () => {
  beforeAll(async () => {
    await initEngine();
  });

  const cases: [string, () => Promise<string>, { prompts: string[]; f32Tolerance: number }][] = [
    [
      "sandbox GPT-2",
      async () => SANDBOX,
      { prompts: ["Human: What should I do about a headache?\n\nAssistant:", "The cat", "Why"], f32Tolerance: 2e-3 },
    ],
    [
      "random Qwen2 (q/k/v biases, NeoX RoPE)",
      () => randomModel("qwen2", { model_type: "qwen2", ...llamaShape, tie_word_embeddings: true }),
      { prompts: ["The cat", "Human: hi"], f32Tolerance: 1e-4 },
    ],
    [
      "random Llama with llama3 RoPE scaling and an untied head",
      () =>
        randomModel("llama3", {
          model_type: "llama",
          ...llamaShape,
          rope_theta: 500000,
          rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 },
        }),
      { prompts: ["The cat", "Human: hi"], f32Tolerance: 1e-4 },
    ],
  ];
  if (storiesPresent)
    cases.unshift(["stories260K", async () => STORIES, { prompts: ["Once upon a time", "Tom and Anna", "The cat"], f32Tolerance: 1e-4 }]);

  for (const [name, makeDir, { prompts, f32Tolerance }] of cases) {
    it(`${name}: greedy tokens equal the wasm engine's; log-probs agree (F16 cache 1e-2, F32 cache ${f32Tolerance})`, async () => {
      const dir = await makeDir();
      const local = await loadModel(dir);
      const tokenizer = local.tokenizer as NonNullable<CausalLM["tokenizer"]>;
      const ids = prompts.map((p) => tokenizer.encode(p));
      const expected = await generateTokens(local, ids, { maxNewTokens: 24, temperature: 0, topLogprobs: 3 });
      const completions = expected.map((g) => g.tokens);
      const scored = await scoreCompletions(local, ids, completions);
      for (const kvCache of ["f16", "f32"] as const) {
        const tolerance = kvCache === "f16" ? 1e-2 : f32Tolerance;
        const llama = await LlamaCppProvider.open(dir, { cacheDir, kvCache, sequences: 4 });
        try {
          const got = await llama.generateTokens(ids, { maxNewTokens: 24, temperature: 0, topLogprobs: 3 });
          got.forEach((g, i) => {
            const want = expected[i] as (typeof expected)[number];
            expect(g.tokens).toEqual(want.tokens);
            expect(g.text).toBe(want.text);
            expect(g.finishReason).toBe(want.finishReason);
            expect(maxDiff(want.logprobs, g.logprobs)).toBeLessThan(tolerance);
            expect(g.topLogprobs?.map((step) => step.map(([t]) => t))).toEqual(want.topLogprobs?.map((step) => step.map(([t]) => t)));
          });
          const scores = await llama.scoreTokens(
            ids.map((p, i) => [...p, ...(completions[i] as number[])]),
            { from: ids.map((p) => p.length) },
          );
          scores.forEach((s, i) => {
            // Seen once in a CI run (F32 cache, sandbox GPT-2: off by 16.2) and never in 200 reruns: name the position and values.
            const want = scored[i] as Float32Array;
            const diffs = Array.from(want, (x, j) => Math.abs(x - (s.logprobs[j] as number)));
            const at = diffs.indexOf(Math.max(0, ...diffs));
            const where = `${kvCache} cache, row ${i}, completion token ${at} of ${diffs.length}: local ${want[at]}, llama ${s.logprobs[at]}`;
            expect(maxDiff(want, s.logprobs), where).toBeLessThan(tolerance);
          });
        } finally {
          await llama.dispose();
        }
      }
      local.dispose();
    });
  }

  it.skipIf(!storiesPresent)("stories260K: llama.cpp's own tokenizer from the GGUF encodes as Precept's does", async () => {
    const llama = await LlamaCppProvider.open(STORIES, { cacheDir, sequences: 1 });
    try {
      for (const text of ["Once upon a time, there was a dog.", "Lily said: \"It's 12 o'clock!\"  Two  spaces.", "café ünïcode ✓"]) {
        // node-llama-cpp's tokenize adds no BOS; Precept's encode does (add_bos_token).
        expect([1, ...llama.llamaTokenize(text)]).toEqual(llama.tokenizer.encode(text));
      }
    } finally {
      await llama.dispose();
    }
  });

  it("sandbox: llama.cpp's own tokenizer from the GGUF encodes as Precept's does", async () => {
    const llama = await LlamaCppProvider.open(SANDBOX, { cacheDir, sequences: 1 });
    try {
      for (const text of ["Human: What should I do about a headache?\n\nAssistant: Rest.", "It's 12345 o'clock!  Two  spaces."]) {
        expect(llama.llamaTokenize(text)).toEqual(llama.tokenizer.encode(text));
      }
    } finally {
      await llama.dispose();
    }
  });

  it("generate, chat (the model's template and stop strings) and logprobs match the local provider", async () => {
    const local = new LocalProvider(await loadModel(SANDBOX), "local");
    const llama = await openProvider(`llama:${SANDBOX}`);
    try {
      const greedy = { temperature: 0, maxTokens: 40 };
      const prompts = ["Human: Is it safe to mix bleach and vinegar?\n\nAssistant:", "Human: My knee hurts.\n\nAssistant:"];
      for (const stop of [["\n\n"], ["."], []]) {
        const [a, b] = await Promise.all([local.generate(prompts, { ...greedy, stop }), llama.generate(prompts, { ...greedy, stop })]);
        expect(b.map((c) => [c.text, c.finishReason, c.usage])).toEqual(a.map((c) => [c.text, c.finishReason, c.usage]));
      }
      const conversations = [[{ role: "user" as const, content: "What helps with a cold?" }]];
      const [chatA, chatB] = await Promise.all([local.chat(conversations, greedy), llama.chat(conversations, greedy)]);
      expect(chatB[0]?.text).toBe(chatA[0]?.text);
      expect(chatB[0]?.text).not.toContain("\n\n"); // cut at the template's stop string
      const completions = [" Rest and drink water.", " No.", ""];
      const [lpA, lpB] = await Promise.all([
        local.logprobs(prompts[0] as string, completions),
        llama.logprobs(prompts[0] as string, completions),
      ]);
      expect(maxDiff(lpA, lpB)).toBeLessThan(2e-2);
      expect(lpB[2]).toBe(0);
      // Seeded sampling is llama.cpp's own: reproducible for a seed, not the local engine's draws.
      const sampled = { temperature: 1, maxTokens: 16, seed: 3 };
      expect((await llama.generate(prompts, sampled)).map((c) => c.text)).toEqual(
        (await llama.generate(prompts, sampled)).map((c) => c.text),
      );
    } finally {
      local.close();
      await (llama as LlamaCppProvider).dispose();
    }
  });

  it("prompt log-probs with top-k: the actual token's log-prob and the k best, most likely first", async () => {
    const llama = await LlamaCppProvider.open(SANDBOX, { cacheDir, sequences: 2 });
    try {
      const ids = llama.tokenizer.encode("Human: What should I do about a headache?");
      const [scores] = await llama.scoreTokens([ids], { topK: 5 });
      expect(scores?.logprobs).toHaveLength(ids.length - 1);
      scores?.top?.forEach((top, t) => {
        expect(top).toHaveLength(5);
        for (let j = 1; j < 5; j++) expect((top[j] as [number, number])[1]).toBeLessThanOrEqual((top[j - 1] as [number, number])[1]);
        const actual = top.find(([token]) => token === ids[t + 1]);
        if (actual) expect(actual[1]).toBeCloseTo(scores.logprobs[t] as number, 5);
      });
    } finally {
      await llama.dispose();
    }
  });

  it("an unsupported architecture is a clear error naming the file", async () => {
    const dir = join(scratch, "bert");
    cpSync(SANDBOX, dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "bert", vocab_size: 1024 }));
    await expect(openProvider(`llama:${dir}`)).rejects.toThrow(/config\.json: model_type "bert" cannot be converted to GGUF/);
  });
});
