import { Rng } from "../src/engine/rng.js";
import { engineThreads } from "../src/engine/threads.js";
import { countParams } from "../src/engine/tree.js";
import { generateTokens } from "../src/models/generate.js";
import { CausalLM, parseModelConfig } from "../src/models/model.js";
import { BENCH_MODELS } from "./models-config.js";

async function measure(name: keyof typeof BENCH_MODELS) {
  const { arch, config } = parseModelConfig(BENCH_MODELS[name].config);
  const model = new CausalLM(arch, config, arch.init(config, new Rng(0)));
  const rng = new Rng(1);
  const { vocabSize } = model.dims;

  // model.logits runs the forward pass under jit and reads all logits back to the host.
  const forwardOnce = async () => {
    await model.logits(Array.from({ length: 16 }, () => Array.from({ length: 64 }, () => rng.int(vocabSize))));
  };
  await forwardOnce();
  let started = performance.now();
  const forwardReps = 3;
  for (let i = 0; i < forwardReps; i++) await forwardOnce();
  const forwardTokensPerSecond = (forwardReps * 16 * 64) / ((performance.now() - started) / 1000);

  const generation: Record<string, number> = {};
  for (const batch of [1, 16]) {
    const prompts = Array.from({ length: batch }, () => Array.from({ length: 8 }, () => rng.int(vocabSize)));
    await generateTokens(model, prompts, { maxNewTokens: 64, temperature: 0, eosTokenIds: [] }); // compile
    started = performance.now();
    const out = await generateTokens(model, prompts, { maxNewTokens: 64, temperature: 0, eosTokenIds: [] });
    const tokens = out.reduce((n, g) => n + g.tokens.length, 0);
    generation[`batch${batch}`] = tokens / ((performance.now() - started) / 1000);
  }
  return { params: countParams(model.params), forwardTokensPerSecond, generationTokensPerSecond: generation };
}

const results: Record<string, unknown> = {};
for (const name of Object.keys(BENCH_MODELS) as (keyof typeof BENCH_MODELS)[]) results[name] = await measure(name);
console.log(JSON.stringify({ threads: engineThreads, results }));
