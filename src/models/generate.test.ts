import { describe, expect, it } from "vitest";
import { Rng } from "../engine/rng.js";
import { ByteTokenizer } from "./byte-tokenizer.js";
import { generate, generateTokens, generationTraceCount, sampleToken } from "./generate.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "./gpt2.js";
import { CausalLM } from "./model.js";

function byteModel(seed = 0): CausalLM {
  const tokenizer = new ByteTokenizer({ extraSpecialTokens: ["<|im_start|>", "<|im_end|>"] });
  const config = gpt2ConfigSchema.parse({
    vocab_size: tokenizer.vocabSize,
    n_positions: 128,
    n_embd: 32,
    n_layer: 2,
    n_head: 4,
    initializer_range: 0.5,
  });
  return new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(seed)), tokenizer);
}

describe("text generation", () => {
  it("decodes text, cuts it at a stop string and reports why it stopped", async () => {
    const model = byteModel();
    const [free] = await generate(model, ["Hello"], { maxNewTokens: 24, temperature: 0, eosTokenIds: [] });
    expect(free?.tokens).toHaveLength(24);
    expect(free?.text).toBe(model.tokenizer?.decode(free?.tokens ?? [], { skipSpecialTokens: true }));
    const text = free?.text ?? "";
    const stop = text.slice(6, 8);
    const [stopped] = await generate(model, ["Hello"], { maxNewTokens: 24, temperature: 0, eosTokenIds: [], stop: [stop] });
    expect(stopped?.finishReason).toBe("stop");
    expect(stopped?.text).toBe(text.slice(0, text.indexOf(stop)));
    model.dispose();
  });

  it("generates from a chat prompt rendered with the tokenizer's template", async () => {
    const model = byteModel();
    const prompt = model.tokenizer?.applyChatTemplate([{ role: "user", content: "Hi" }], { addGenerationPrompt: true }) ?? "";
    expect(prompt).toBe("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    const [reply] = await generate(model, [prompt], { maxNewTokens: 8, temperature: 0.8, seed: 1 });
    expect(reply?.tokens.length).toBeGreaterThan(0);
    model.dispose();
  });

  it("compiles the decode step once per cache bucket, not once per token", async () => {
    const model = byteModel(1);
    await generateTokens(model, [[1, 2, 3]], { maxNewTokens: 5, temperature: 0, eosTokenIds: [] });
    const before = generationTraceCount();
    await generateTokens(model, [[4, 5, 6]], { maxNewTokens: 5, temperature: 0, eosTokenIds: [] });
    expect(generationTraceCount()).toBe(before); // same shapes: nothing traced again
    await generateTokens(model, [[7, 8]], { maxNewTokens: 20, temperature: 0, eosTokenIds: [] });
    expect(generationTraceCount() - before).toBeLessThanOrEqual(2); // a new cache bucket: one prefill and one decode trace for 20 tokens
    model.dispose();
  });

  it("top-k of 1 and a tiny top-p are greedy; a seed makes sampling repeatable", async () => {
    const model = byteModel(2);
    const prompts = [[72, 105], [33]];
    const greedy = await generateTokens(model, prompts, { maxNewTokens: 10, temperature: 0, eosTokenIds: [] });
    const topK1 = await generateTokens(model, prompts, { maxNewTokens: 10, temperature: 1.5, topK: 1, eosTokenIds: [] });
    const topP = await generateTokens(model, prompts, { maxNewTokens: 10, temperature: 1, topP: 1e-6, eosTokenIds: [] });
    expect(topK1.map((g) => g.tokens)).toEqual(greedy.map((g) => g.tokens));
    expect(topP.map((g) => g.tokens)).toEqual(greedy.map((g) => g.tokens));
    const s1 = await generateTokens(model, prompts, { maxNewTokens: 10, temperature: 1, seed: 9, eosTokenIds: [] });
    const s2 = await generateTokens(model, prompts, { maxNewTokens: 10, temperature: 1, seed: 9, eosTokenIds: [] });
    const s3 = await generateTokens(model, prompts, { maxNewTokens: 10, temperature: 1, seed: 10, eosTokenIds: [] });
    expect(s2.map((g) => g.tokens)).toEqual(s1.map((g) => g.tokens));
    expect(s3.map((g) => g.tokens)).not.toEqual(s1.map((g) => g.tokens));
    model.dispose();
  });
});

describe("sampleToken", () => {
  const logits = new Float32Array([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);

  it("samples with the softmax probabilities at temperature 1 and returns their log-probs", () => {
    const rng = new Rng(4);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) {
      const { token, logprob } = sampleToken(logits, { temperature: 1 }, rng);
      counts[token] = (counts[token] as number) + 1;
      expect(logprob).toBeCloseTo(logits[token] as number, 5);
    }
    for (const [i, p] of [0.5, 0.3, 0.15, 0.05].entries()) expect(Math.abs((counts[i] as number) / 20000 - p)).toBeLessThan(0.015);
  });

  it("top-k and top-p keep only the head of the distribution, and temperature sharpens it", () => {
    const rng = new Rng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(sampleToken(logits, { temperature: 1, topK: 2 }, rng).token);
    expect([...seen].sort()).toEqual([0, 1]);
    seen.clear();
    for (let i = 0; i < 2000; i++) seen.add(sampleToken(logits, { temperature: 1, topP: 0.9 }, rng).token);
    expect([...seen].sort()).toEqual([0, 1, 2]); // 0.5 + 0.3 < 0.9 ≤ 0.5 + 0.3 + 0.15
    // At T = 0.5 the probabilities are p²/Σp² (Σp² = 0.365), whichever token is drawn.
    const probabilities = [0.5, 0.3, 0.15, 0.05];
    for (let seed = 0; seed < 5; seed++) {
      const cold = sampleToken(logits, { temperature: 0.5 }, new Rng(seed));
      expect(cold.logprob).toBeCloseTo(Math.log((probabilities[cold.token] as number) ** 2 / 0.365), 4);
    }
    expect(sampleToken(logits, { temperature: 0 }, rng)).toEqual({ token: 0, logprob: expect.closeTo(Math.log(0.5), 5) });
  });
});
