/**
 * `npm run bench -- llama`: greedy generation tokens/s, the wasm engine
 * (`generateTokens`, local:) against llama.cpp (the llama: provider, F32 GGUF,
 * default F16 KV cache), at batch 1 and 16, 8-token prompts and 64 new tokens,
 * on the sandbox GPT-2 and a random model of SmolLM2-135M's shape. Both sides
 * use `PRECEPT_THREADS` threads (default all cores; llama.cpp `PRECEPT_LLAMA_THREADS` when set), in one run.
 * Writes bench/results/llama.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initEngine } from "../src/engine/device.js";
import { Rng } from "../src/engine/rng.js";
import { countParams } from "../src/engine/tree.js";
import { generateTokens } from "../src/models/generate.js";
import { loadModel, saveModel } from "../src/models/io.js";
import { CausalLM, parseModelConfig } from "../src/models/model.js";
import { loadTokenizer } from "../src/models/tokenizer.js";
import { hasNodeLlamaCpp, LlamaCppProvider, NODE_LLAMA_CPP_VERSION } from "../src/providers/llama.js";

/** SmolLM2-135M's shape (random weights; the sandbox tokenizer, padded to the 49152-row embedding in the GGUF). */
const SMOLLM2_135M_SHAPE = {
  model_type: "llama",
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  max_position_embeddings: 2048,
  rope_theta: 100000,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
};

const BATCHES = [1, 16];
const NEW_TOKENS = 64;

function prompts(batch: number, vocab: number): number[][] {
  const rng = new Rng(batch);
  return Array.from({ length: batch }, () => Array.from({ length: 8 }, () => rng.int(vocab)));
}

async function wasm(dir: string): Promise<{ params: number; tokensPerSecond: Record<string, number> }> {
  const model = await loadModel(dir);
  model.tokenizer = null; // ids only: the random model's vocabulary is wider than the sandbox tokenizer's
  const out: Record<string, number> = {};
  for (const batch of BATCHES) {
    const ids = prompts(batch, 1023);
    await generateTokens(model, ids, { maxNewTokens: NEW_TOKENS, temperature: 0, eosTokenIds: [] }); // compile
    const started = performance.now();
    const gens = await generateTokens(model, ids, { maxNewTokens: NEW_TOKENS, temperature: 0, eosTokenIds: [] });
    out[`batch${batch}`] = gens.reduce((n, g) => n + g.tokens.length, 0) / ((performance.now() - started) / 1000);
  }
  const params = countParams(model.params);
  model.dispose();
  return { params, tokensPerSecond: out };
}

async function llamaCpp(dir: string, cacheDir: string): Promise<{ convertSeconds: number; tokensPerSecond: Record<string, number> }> {
  let started = performance.now();
  const provider = await LlamaCppProvider.open(dir, { cacheDir, sequences: Math.max(...BATCHES), contextSize: 128 });
  const convertSeconds = (performance.now() - started) / 1000;
  const out: Record<string, number> = {};
  try {
    for (const batch of BATCHES) {
      await provider.generateTokens(prompts(batch, 1023), { maxNewTokens: 8, temperature: 0, eosTokenIds: [], decode: false }); // warm up
      // Fresh prompts, so no sequence reuses a cached prefix from the warm-up.
      const ids = prompts(batch + 100, 1023);
      started = performance.now();
      const gens = await provider.generateTokens(ids, { maxNewTokens: NEW_TOKENS, temperature: 0, eosTokenIds: [], decode: false });
      out[`batch${batch}`] = gens.reduce((n, g) => n + g.tokens.length, 0) / ((performance.now() - started) / 1000);
    }
  } finally {
    await provider.dispose();
  }
  return { convertSeconds, tokensPerSecond: out };
}

export async function runLlamaBench(): Promise<void> {
  if (!(await hasNodeLlamaCpp())) {
    console.log("llama bench skipped: node-llama-cpp is not installed (npm run llama:install)");
    return;
  }
  await initEngine();
  const threads = Number(process.env.PRECEPT_THREADS ?? availableParallelism());
  // llama.cpp's workers spin: on a machine busy with other work, PRECEPT_LLAMA_THREADS=1 can beat all cores.
  const llamaThreads = Number(process.env.PRECEPT_LLAMA_THREADS ?? threads);
  console.log(
    `llama bench: ${cpus()[0]?.model ?? "cpu"}, wasm ${threads} threads, llama.cpp ${llamaThreads}, node-llama-cpp ${NODE_LLAMA_CPP_VERSION}`,
  );
  const scratch = mkdtempSync(join(tmpdir(), "precept-llama-bench-"));
  const rows: { model: string; params: number; batch: number; wasm: number; llama: number; speedup: number }[] = [];
  const conversions: Record<string, number> = {};
  try {
    const sandbox = fileURLToPath(new URL("../models/sandbox-base/", import.meta.url));
    const { arch, config } = parseModelConfig(SMOLLM2_135M_SHAPE);
    const random = new CausalLM(arch, config, arch.init(config, new Rng(0)), await loadTokenizer(sandbox));
    const smolDir = join(scratch, "smollm2-135m-shape");
    await saveModel(random, smolDir);
    random.dispose();
    for (const [name, dir] of [
      ["sandbox GPT-2", sandbox],
      ["SmolLM2-135M shape", smolDir],
    ] as const) {
      console.log(`  ${name}: wasm...`);
      const w = await wasm(dir);
      console.log(`  ${name}: llama.cpp...`);
      const l = await llamaCpp(dir, join(scratch, "gguf"));
      conversions[name] = l.convertSeconds;
      for (const batch of BATCHES) {
        const key = `batch${batch}`;
        const a = w.tokensPerSecond[key] as number;
        const b = l.tokensPerSecond[key] as number;
        rows.push({ model: name, params: w.params, batch, wasm: a, llama: b, speedup: b / a });
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  console.log(`\n| model | batch | wasm tokens/s | llama.cpp tokens/s | llama.cpp / wasm |\n|---|---:|---:|---:|---:|`);
  for (const r of rows)
    console.log(`| ${r.model} | ${r.batch} | ${r.wasm.toFixed(1)} | ${r.llama.toFixed(1)} | ${r.speedup.toFixed(2)}x |`);
  console.log(`\nfirst open (GGUF conversion + load), seconds: ${JSON.stringify(conversions)}`);
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}llama.json`,
    `${JSON.stringify({ suite: "llama", date: new Date().toISOString(), threads, llamaThreads, node: process.version, nodeLlamaCpp: NODE_LLAMA_CPP_VERSION, newTokens: NEW_TOKENS, rows, firstOpenSeconds: conversions }, null, 2)}\n`,
  );
  console.log("wrote bench/results/llama.json");
}
