/**
 * `npm run bench -- llama [--all]`: the wasm engine (local:) against llama.cpp
 * (the llama: provider, F32 GGUF, default F16 KV cache), side by side in one run:
 *   - greedy generation tokens/s at batch 1 and 16 (8-token prompts) on the
 *     sandbox GPT-2 and a random model of SmolLM2-135M's shape;
 *   - scoring rows/s (16 rows of 8 prompt + 48 completion tokens: what PPO/GRPO's
 *     reference pass does each step) on both models;
 *   - `cai revise` (1 round) and `cai label` (2 responses) items/s on the
 *     sandbox model with the sandbox constitution, 8 red-team prompts, concurrency 8.
 * Bounded by default so it ends on a loaded 2-core machine (32 new tokens, 135M
 * generation at batch 1 only); `--all` runs 64 new tokens, 135M at batch 16 and 24
 * CAI prompts. The wasm engine uses `PRECEPT_THREADS` threads (default all cores),
 * llama.cpp `PRECEPT_LLAMA_THREADS` (default one core fewer). Writes bench/results/llama.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConstitution } from "../src/constitution/load.js";
import { initEngine } from "../src/engine/device.js";
import { Rng } from "../src/engine/rng.js";
import { countParams } from "../src/engine/tree.js";
import { generateTokens } from "../src/models/generate.js";
import { loadModel, saveModel } from "../src/models/io.js";
import { CausalLM, parseModelConfig } from "../src/models/model.js";
import { scoreCompletions } from "../src/models/score.js";
import { loadTokenizer } from "../src/models/tokenizer.js";
import { BatchingProvider } from "../src/providers/batching.js";
import { defaultLlamaThreads, hasNodeLlamaCpp, LlamaCppProvider, NODE_LLAMA_CPP_VERSION } from "../src/providers/llama.js";
import { LocalProvider } from "../src/providers/local.js";
import type { Provider } from "../src/providers/provider.js";
import { SANDBOX_CONSTITUTION } from "../src/recipes/sandbox.js";
import { openStore } from "../src/store/store.js";
import { timeCaiPass, writeRedTeamPrompts } from "./cai-workload.js";
import { SHAPES } from "./scale-shapes.js";

/** SmolLM2-135M's shape (random weights; the sandbox tokenizer, padded to the 49152-row embedding in the GGUF). */
const SMOLLM2_135M_SHAPE = SHAPES["smollm2-135m"];

const ALL = process.argv.includes("--all");
const NEW_TOKENS = ALL ? 64 : 32;
const CAI_PROMPTS = ALL ? 24 : 8;
const CAI_CONCURRENCY = 8;
const SCORE_ROWS = 16;
const SCORE_PROMPT = 8;
const SCORE_COMPLETION = 48;
/** Token ids below the sandbox tokenizer's vocabulary, so both models take them. */
const IDS_BELOW = 1023;

function randomRows(seed: number, rows: number, length: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: rows }, () => Array.from({ length }, () => rng.int(IDS_BELOW)));
}

const perSecond = (count: number, started: number) => count / ((performance.now() - started) / 1000);

/**
 * New tokens for a warm-up that compiles the same jit shapes as `NEW_TOKENS` at a fraction of the cost:
 * generateTokens buckets an 8-token prompt to 16 and the cache to `bucket(16 + new, 32)` slots.
 */
const WARM_UP_TOKENS = Math.ceil((16 + NEW_TOKENS) / 32) * 32 - 16 - 31;

async function wasmSide(dir: string, batches: number[]) {
  const model = await loadModel(dir);
  model.tokenizer = null; // ids only: the random model's vocabulary is wider than the sandbox tokenizer's
  const generation: Record<string, number> = {};
  try {
    for (const batch of batches) {
      const ids = randomRows(batch, batch, 8);
      await generateTokens(model, ids, { maxNewTokens: WARM_UP_TOKENS, temperature: 0, eosTokenIds: [] }); // compile
      const started = performance.now();
      const gens = await generateTokens(model, ids, { maxNewTokens: NEW_TOKENS, temperature: 0, eosTokenIds: [] });
      generation[`batch${batch}`] = perSecond(
        gens.reduce((n, g) => n + g.tokens.length, 0),
        started,
      );
    }
    const rows = randomRows(7, SCORE_ROWS, SCORE_PROMPT + SCORE_COMPLETION);
    const score = () =>
      scoreCompletions(
        model,
        rows.map((r) => r.slice(0, SCORE_PROMPT)),
        rows.map((r) => r.slice(SCORE_PROMPT)),
      );
    await score(); // compile
    const started = performance.now();
    await score();
    return { params: countParams(model.params), generation, scoreRowsPerSecond: perSecond(SCORE_ROWS, started) };
  } finally {
    model.dispose();
  }
}

async function llamaSide(dir: string, batches: number[], cacheDir: string) {
  let started = performance.now();
  const provider = await LlamaCppProvider.open(dir, { cacheDir, sequences: SCORE_ROWS, contextSize: 128 });
  const firstOpenSeconds = (performance.now() - started) / 1000;
  const generation: Record<string, number> = {};
  try {
    for (const batch of batches) {
      await provider.generateTokens(randomRows(batch, batch, 8), { maxNewTokens: 8, temperature: 0, eosTokenIds: [], decode: false }); // warm up
      // Fresh prompts, so no sequence reuses a cached prefix from the warm-up.
      const ids = randomRows(batch + 100, batch, 8);
      started = performance.now();
      const gens = await provider.generateTokens(ids, { maxNewTokens: NEW_TOKENS, temperature: 0, eosTokenIds: [], decode: false });
      generation[`batch${batch}`] = perSecond(
        gens.reduce((n, g) => n + g.tokens.length, 0),
        started,
      );
    }
    // Prompts differ from the generation ones in their first token, so nothing cached is reused.
    const rows = randomRows(7, SCORE_ROWS, SCORE_PROMPT + SCORE_COMPLETION);
    started = performance.now();
    await provider.scoreTokens(rows, { from: rows.map(() => SCORE_PROMPT) });
    return { firstOpenSeconds, generation, scoreRowsPerSecond: perSecond(SCORE_ROWS, started) };
  } finally {
    await provider.dispose();
  }
}

/** `cai revise` then `cai label` with one provider as policy and feedback model, each in a fresh SQLite store. */
async function caiItemsPerSecond(provider: Provider, scratch: string, tag: string) {
  const prompts = writeRedTeamPrompts(join(scratch, "cai-prompts.jsonl"), CAI_PROMPTS);
  const constitution = loadConstitution(SANDBOX_CONSTITUTION);
  const out: Record<string, number> = {};
  // Two passes (fresh stores), only the second timed: neither engine pays for compiling or converting.
  for (const pass of [0, 1]) {
    const store = await openStore(join(scratch, `${tag}-${pass}.sqlite`));
    try {
      const timed = await timeCaiPass({
        store,
        constitution,
        prompts,
        provider,
        concurrency: CAI_CONCURRENCY,
        scratch,
        tag: `${tag}-${pass}`,
      });
      if (pass === 1) {
        out.revise = timed.revise.items / timed.revise.seconds;
        out.label = timed.label.items / timed.label.seconds;
      }
    } finally {
      await store.close();
    }
  }
  return out as { revise: number; label: number };
}

export async function runLlamaBench(): Promise<void> {
  if (!(await hasNodeLlamaCpp())) {
    console.log("llama bench skipped: node-llama-cpp is not installed (npm run llama:install)");
    return;
  }
  await initEngine();
  const threads = Number(process.env.PRECEPT_THREADS ?? availableParallelism());
  const llamaThreads = defaultLlamaThreads(); // what the provider uses: PRECEPT_LLAMA_THREADS, else cores − 1
  const loadBefore = loadavg()[0] as number;
  const conditions = `load average ${loadBefore.toFixed(1)} on ${availableParallelism()} cores at the start${loadBefore > availableParallelism() ? ": under load from other jobs" : ""}`;
  console.log(
    `llama bench${ALL ? " --all" : ""}: ${cpus()[0]?.model ?? "cpu"}, wasm ${threads} threads, llama.cpp ${llamaThreads}, node-llama-cpp ${NODE_LLAMA_CPP_VERSION}; ${conditions}`,
  );
  const scratch = mkdtempSync(join(tmpdir(), "precept-llama-bench-"));
  const generation: { model: string; params: number; batch: number; newTokens: number; wasm: number; llama: number; speedup: number }[] =
    [];
  const scoring: { model: string; rows: number; tokensPerRow: number; wasm: number; llama: number; speedup: number }[] = [];
  const firstOpenSeconds: Record<string, number> = {};
  let cai: { pipeline: string; prompts: number; concurrency: number; wasm: number; llama: number; speedup: number }[] = [];
  try {
    const sandbox = fileURLToPath(new URL("../models/sandbox-base/", import.meta.url));
    const { arch, config } = parseModelConfig(SMOLLM2_135M_SHAPE);
    const random = new CausalLM(arch, config, arch.init(config, new Rng(0)), await loadTokenizer(sandbox));
    const smolDir = join(scratch, "smollm2-135m-shape");
    await saveModel(random, smolDir);
    random.dispose();
    for (const [name, dir, batches] of [
      ["sandbox GPT-2", sandbox, [1, 16]],
      ["SmolLM2-135M shape", smolDir, ALL ? [1, 16] : [1]],
    ] as const) {
      console.log(`  ${name}: wasm...`);
      const w = await wasmSide(dir, [...batches]);
      console.log(`  ${name}: llama.cpp...`);
      const l = await llamaSide(dir, [...batches], join(scratch, "gguf"));
      firstOpenSeconds[name] = l.firstOpenSeconds;
      for (const batch of batches) {
        const a = w.generation[`batch${batch}`] as number;
        const b = l.generation[`batch${batch}`] as number;
        generation.push({ model: name, params: w.params, batch, newTokens: NEW_TOKENS, wasm: a, llama: b, speedup: b / a });
      }
      scoring.push({
        model: name,
        rows: SCORE_ROWS,
        tokensPerRow: SCORE_PROMPT + SCORE_COMPLETION,
        wasm: w.scoreRowsPerSecond,
        llama: l.scoreRowsPerSecond,
        speedup: l.scoreRowsPerSecond / w.scoreRowsPerSecond,
      });
    }
    console.log("  cai revise/label: wasm...");
    const model = await loadModel(sandbox);
    const wasmCai = await caiItemsPerSecond(
      new BatchingProvider(new LocalProvider(model, "local:sandbox-base"), CAI_CONCURRENCY),
      scratch,
      "wasm",
    );
    model.dispose();
    console.log("  cai revise/label: llama.cpp...");
    const llama = await LlamaCppProvider.open(sandbox, { cacheDir: join(scratch, "gguf"), sequences: CAI_CONCURRENCY });
    const llamaCai = await caiItemsPerSecond(llama, scratch, "llama").finally(() => llama.dispose());
    cai = (["revise", "label"] as const).map((pipeline) => ({
      pipeline: pipeline === "revise" ? "revise (1 round)" : "label (2 responses)",
      prompts: CAI_PROMPTS,
      concurrency: CAI_CONCURRENCY,
      wasm: wasmCai[pipeline],
      llama: llamaCai[pipeline],
      speedup: llamaCai[pipeline] / wasmCai[pipeline],
    }));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const loadAfter = loadavg()[0] as number;
  console.log(`\n| model | batch | new tokens | wasm tokens/s | llama.cpp tokens/s | llama.cpp / wasm |\n|---|---:|---:|---:|---:|---:|`);
  for (const r of generation)
    console.log(`| ${r.model} | ${r.batch} | ${r.newTokens} | ${r.wasm.toFixed(1)} | ${r.llama.toFixed(1)} | ${r.speedup.toFixed(2)}x |`);
  console.log(
    `\n| scoring (reference pass) | rows x tokens | wasm rows/s | llama.cpp rows/s | llama.cpp / wasm |\n|---|---:|---:|---:|---:|`,
  );
  for (const r of scoring)
    console.log(`| ${r.model} | ${r.rows}x${r.tokensPerRow} | ${r.wasm.toFixed(2)} | ${r.llama.toFixed(2)} | ${r.speedup.toFixed(2)}x |`);
  console.log(
    `\n| pipeline (sandbox) | prompts | concurrency | wasm items/s | llama.cpp items/s | llama.cpp / wasm |\n|---|---:|---:|---:|---:|---:|`,
  );
  for (const r of cai)
    console.log(
      `| ${r.pipeline} | ${r.prompts} | ${r.concurrency} | ${r.wasm.toFixed(2)} | ${r.llama.toFixed(2)} | ${r.speedup.toFixed(2)}x |`,
    );
  console.log(
    `\nfirst open (GGUF conversion + load), seconds: ${JSON.stringify(firstOpenSeconds)}; load average ${loadAfter.toFixed(1)} at the end`,
  );
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const underLoad = Math.max(loadBefore, loadAfter) > availableParallelism();
  writeFileSync(
    `${dir}llama.json`,
    `${JSON.stringify(
      {
        suite: "llama",
        date: new Date().toISOString(),
        conditions: `${underLoad ? "under load from other jobs: " : ""}load average ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end, ${availableParallelism()} cores`,
        all: ALL,
        threads,
        llamaThreads,
        node: process.version,
        nodeLlamaCpp: NODE_LLAMA_CPP_VERSION,
        generation,
        scoring,
        cai,
        firstOpenSeconds,
      },
      null,
      2,
    )}\n`,
  );
  console.log("wrote bench/results/llama.json");
}
