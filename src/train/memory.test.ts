import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../engine/rng.js";
import { tokensPerChunk } from "../engine/vocab-head.js";
import { llama, llamaConfigSchema } from "../models/llama.js";
import { CausalLM } from "../models/model.js";
import { sftConfigSchema } from "./configs.js";
import { chooseStaged, estimateTrainingMemory, lastStagedChoice, TooLargeError } from "./memory.js";
import { trainSft } from "./sft.js";

const qwen05 = llamaConfigSchema.parse({
  model_type: "qwen2",
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
});
/** A model of a real shape without its weights: the estimate reads only the config. */
const shapeOnly = (config: typeof qwen05) => new CausalLM(llama as never, config, {});
const out = mkdtempSync(join(tmpdir(), "precept-memory-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("training memory estimate", () => {
  it("counts a Qwen2.5-0.5B shape's weights from its config, and grows with tokens", () => {
    const small = estimateTrainingMemory(shapeOnly(qwen05), {
      rows: 2,
      length: 256,
      trainableParams: 0,
      headTrains: false,
      accumulation: 1,
    });
    expect(small.weights / 4).toBeCloseTo(494_032_768, -6);
    const large = estimateTrainingMemory(shapeOnly(qwen05), {
      rows: 8,
      length: 256,
      trainableParams: 0,
      headTrains: false,
      accumulation: 1,
    });
    expect(large.activationsWhole).toBeGreaterThan(3 * small.activationsWhole);
    expect(large.staged).toBeLessThan(large.whole);
  });

  it("a reward model's scalar head computes no logits: its estimate leaves out the vocabulary head, and chooseStaged('rm') uses it", () => {
    const tokens = 2 * 2 * 256;
    const vocab = qwen05.vocab_size;
    const d = qwen05.hidden_size;
    const lora = { rows: 4, length: 256, trainableParams: 1_000_000, headTrains: false, accumulation: 1 };
    const lm = estimateTrainingMemory(shapeOnly(qwen05), lora);
    const rm = estimateTrainingMemory(shapeOnly(qwen05), { ...lora, head: "score" });
    // Frozen embedding (gathered): nothing of the vocabulary is left but the weights.
    expect(lm.activationsStaged - rm.activationsStaged).toBe(6 * tokensPerChunk(vocab, tokens) * vocab * 4);
    expect(rm.weights).toBe(lm.weights);
    // Full fine-tuning: the embedding's one-hot rows and its V x D gradient copies stay; the logit chunks and onehot − p go.
    const full = { ...lora, trainableParams: 494_032_768, headTrains: true };
    const lmFull = estimateTrainingMemory(shapeOnly(qwen05), full);
    const rmFull = estimateTrainingMemory(shapeOnly(qwen05), { ...full, head: "score" });
    expect(rmFull.activationsWhole).toBeLessThan(lmFull.activationsWhole);
    expect(rmFull.activationsWhole - rm.activationsWhole).toBe(tokens * vocab * 4 + 2 * vocab * d * 4);
    // The reward model's trainer is estimated with its scalar head; SFT's with the vocabulary.
    const options = { ...lora, lora: true };
    chooseStaged("rm", shapeOnly(qwen05), options, 2 ** 40);
    expect(lastStagedChoice()?.estimate?.whole).toBe(rm.whole);
    chooseStaged("sft", shapeOnly(qwen05), options, 2 ** 40);
    expect(lastStagedChoice()?.estimate?.whole).toBe(lm.whole);
  });

  it("picks one jitted step when it fits, block by block when only that fits, and otherwise says what to do", () => {
    const lora = { rows: 2, length: 256, trainableParams: 1_000_000, headTrains: false, accumulation: 1, lora: true };
    const estimate = estimateTrainingMemory(shapeOnly(qwen05), lora);
    expect(chooseStaged("sft", shapeOnly(qwen05), lora, estimate.whole + 1)).toBe(false);
    expect(chooseStaged("sft", shapeOnly(qwen05), lora, (estimate.whole + estimate.staged) / 2)).toBe(true);
    const full = { rows: 8, length: 1024, trainableParams: 494_032_768, headTrains: true, accumulation: 1, lora: false };
    let error: unknown;
    try {
      chooseStaged("sft", shapeOnly(qwen05), full);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TooLargeError);
    const message = (error as Error).message;
    expect(message).toMatch(
      /^sft: this step needs about \d+\.\d GiB even block by block \(weights 1\.8 GiB, gradients and AdamW state 5\.5 GiB/,
    );
    expect(message).toContain("more than the 3.6 GiB the wasm engine can use");
    expect(message).toContain("lora: {r: 8");
    expect(message).toContain("smaller per_device_train_batch_size with gradient_accumulation_steps");
    expect(message).toContain("--device webgpu");
  });

  it("stops trainSft before the first step when the batch cannot fit", async () => {
    // A million-token vocabulary at 32 × 512 tokens: the head alone would need hundreds of GiB.
    const config = llamaConfigSchema.parse({
      model_type: "llama",
      vocab_size: 1_000_000,
      hidden_size: 8,
      intermediate_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      tie_word_embeddings: true,
    });
    const model = new CausalLM(llama as never, config, llama.init(config, new Rng(1)));
    const rng = new Rng(2);
    const train = Array.from({ length: 32 }, () => {
      const ids = Array.from({ length: 512 }, () => rng.int(1_000_000));
      return { ids, lossMask: ids.map(() => 1) };
    });
    const sft = sftConfigSchema.parse({
      model_name_or_path: "x",
      train_file: "x",
      output_dir: out,
      per_device_train_batch_size: 32,
      max_steps: 1,
      progress: false,
    });
    const started = performance.now();
    await expect(trainSft({ config: sft, model, train })).rejects.toThrow(TooLargeError);
    expect(performance.now() - started).toBeLessThan(10_000);
    model.dispose();
  });
});
