/**
 * One training configuration in a fresh process: a few SFT or DPO steps of a
 * real shape (random weights), printing one JSON line with the wasm heap, the
 * most bytes live at once, process RSS and seconds per step. Used by the
 * scale bench and to find where memory goes:
 *   node --import tsx bench/memory-probe.ts '{"shape":"smollm2-135m","layers":1,"vocab":24576,"mode":"lora","batch":1,"seq":128}'
 */
import { initEngine } from "../src/engine/device.js";
import { heapStats } from "../src/engine/live-buffers.js";
import { Rng } from "../src/engine/rng.js";
import { countParams, disposeTree } from "../src/engine/tree.js";
import { dpoConfigSchema, sftConfigSchema } from "../src/train/configs.js";
import { TrainerCore } from "../src/train/core.js";
import { trainDpo } from "../src/train/dpo.js";
import { estimateTrainingMemory } from "../src/train/memory.js";
import { trainSft } from "../src/train/sft.js";
import { type ShapeName, shapeModel } from "./scale-shapes.js";

// PRECEPT_DEVICE=webgpu runs the same measurement on a GPU (bench/gpu-scale.sh).
if (process.env.PRECEPT_DEVICE) await initEngine();
type Probe = {
  shape: ShapeName;
  layers?: number;
  vocab?: number;
  mode: "lora" | "full";
  trainer?: "sft" | "dpo";
  batch: number;
  seq: number;
  steps?: number;
};
// Steps only: no checkpoint or final model written (they would dominate the timing at these sizes).
TrainerCore.prototype.save = async () => "";
TrainerCore.prototype.finish = async function (this: TrainerCore) {
  for (const slot of Object.values(this.optState.slots)) disposeTree(slot);
  this.optState = { ...this.optState, slots: {} };
};
const probe = JSON.parse(process.argv[2] ?? "{}") as Probe;
const steps = probe.steps ?? 2;
const model = shapeModel(probe.shape, {
  ...(probe.layers ? { layers: probe.layers } : {}),
  ...(probe.vocab ? { vocab: probe.vocab } : {}),
});
const vocab = model.dims.vocabSize;
const rng = new Rng(1);
const tokens = (n: number) => Array.from({ length: n }, () => 1 + rng.int(vocab - 1));
const common = {
  model_name_or_path: "bench",
  train_file: "bench",
  output_dir: `/tmp/precept-memory-probe-${process.pid}`,
  save_steps: 0,
  progress: false,
  per_device_train_batch_size: probe.batch,
  max_steps: steps,
  ...(probe.mode === "lora" ? { lora: { r: 8, lora_alpha: 16 } } : {}),
};
let peakRss = process.memoryUsage().rss;
const sample = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
const trainer = probe.trainer ?? "sft";
const half = Math.floor(probe.seq / 2);
const sftRows = () =>
  Array.from({ length: probe.batch * steps }, () => {
    const ids = tokens(probe.seq);
    return { ids, lossMask: ids.map(() => 1) };
  });
const dpoRows = () =>
  Array.from({ length: probe.batch * steps }, () => ({ prompt: tokens(half), chosen: tokens(half), rejected: tokens(half) }));
const ref = trainer === "dpo" ? model.clone() : null;
const rows = trainer === "dpo" ? 2 * probe.batch : probe.batch;
const lora = probe.mode === "lora";
const estimate = estimateTrainingMemory(model, {
  rows,
  length: probe.seq,
  trainableParams: lora ? 0 : countParams(model.params),
  headTrains: !lora,
  accumulation: 1,
});
/** Runs `n` optimizer steps; the first run also traces and compiles. */
async function run(n: number): Promise<number> {
  const t = performance.now();
  const config = { ...common, max_steps: n };
  if (trainer === "sft") await trainSft({ config: sftConfigSchema.parse(config), model, train: sftRows() });
  else await trainDpo({ config: dpoConfigSchema.parse(config), model, ref: ref as never, train: dpoRows() });
  return (performance.now() - t) / 1000;
}
let error: string | null = null;
let firstSeconds = 0;
let stepSeconds = 0;
try {
  firstSeconds = await run(1);
  stepSeconds = (await run(steps)) / steps;
} catch (e) {
  error = String((e as Error).message ?? e).slice(0, 300);
}
clearInterval(sample);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const stats = heapStats();
console.log(
  JSON.stringify({
    ...probe,
    ok: error === null,
    error,
    firstSeconds: +firstSeconds.toFixed(2),
    stepSeconds: +stepSeconds.toFixed(3),
    tokensPerSecond: stepSeconds ? Math.round((probe.batch * probe.seq * (trainer === "dpo" ? 2 : 1)) / stepSeconds) : null,
    estimateWholeGiB: +(estimate.whole / 2 ** 30).toFixed(2),
    estimateStagedGiB: +(estimate.staged / 2 ** 30).toFixed(2),
    heapGiB: +(stats.heapBytes / 2 ** 30).toFixed(3),
    peakLiveGiB: +(stats.peakLiveBytes / 2 ** 30).toFixed(3),
    rssGiB: +(peakRss / 2 ** 30).toFixed(3),
  }),
);
process.exit(0);
