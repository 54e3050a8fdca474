/**
 * One shape of the scale bench in a fresh process (random weights): forward
 * tokens/s on [4, 64] (logits read back), greedy generation tokens/s at
 * batch 1 and 16 (8-token prompts, 16 new tokens, KV cache), wasm heap and
 * process RSS. Prints one JSON line.
 *   node --import tsx bench/scale-probe.ts smollm2-135m
 */
import { nativeMatmulStatus } from "../src/engine/blas.js";
import { initEngine } from "../src/engine/device.js";
import { heapStats } from "../src/engine/live-buffers.js";
import { Rng } from "../src/engine/rng.js";
import { generateTokens } from "../src/models/generate.js";
import { type ShapeName, shapeModel } from "./scale-shapes.js";

// PRECEPT_DEVICE=webgpu runs the same measurement on a GPU (bench/gpu-scale.sh).
if (process.env.PRECEPT_DEVICE) await initEngine();
const name = process.argv[2] as ShapeName;
let peakRss = process.memoryUsage().rss;
const sample = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
const model = shapeModel(name);
const vocab = model.dims.vocabSize;
const rng = new Rng(1);
const rows = (b: number, t: number) => Array.from({ length: b }, () => Array.from({ length: t }, () => rng.int(vocab)));

await model.logits(rows(4, 64));
let started = performance.now();
await model.logits(rows(4, 64));
const forwardTokensPerSecond = (4 * 64) / ((performance.now() - started) / 1000);

const generation: Record<string, number> = {};
for (const batch of [1, 16]) {
  const prompts = rows(batch, 8);
  await generateTokens(model, prompts, { maxNewTokens: 16, temperature: 0, eosTokenIds: [] }); // compile
  started = performance.now();
  const out = await generateTokens(model, prompts, { maxNewTokens: 16, temperature: 0, eosTokenIds: [] });
  generation[`batch${batch}`] = out.reduce((n, g) => n + g.tokens.length, 0) / ((performance.now() - started) / 1000);
}
clearInterval(sample);
console.log(
  JSON.stringify({
    shape: name,
    matmul: nativeMatmulStatus().active ? nativeMatmulStatus().detail : "wasm",
    forwardTokensPerSecond,
    generationTokensPerSecond: generation,
    heapGiB: heapStats().heapBytes / 2 ** 30,
    rssGiB: Math.max(peakRss, process.memoryUsage().rss) / 2 ** 30,
  }),
);
process.exit(0);
