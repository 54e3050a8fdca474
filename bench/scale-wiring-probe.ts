/**
 * One trainer on a real shape (random weights, a few tiny examples, one
 * optimizer step) in a fresh process: checks that it runs at that size (no
 * 4 GiB error) and which step the memory estimate chose. Prints one JSON line.
 *   node --import tsx bench/scale-wiring-probe.ts '{"shape":"smollm2-135m","trainer":"grpo","mode":"lora"}'
 */
import { heapStats } from "../src/engine/live-buffers.js";
import { Rng } from "../src/engine/rng.js";
import { disposeTree } from "../src/engine/tree.js";
import { dpoConfigSchema, grpoConfigSchema, ppoConfigSchema, rewardConfigSchema, sftConfigSchema } from "../src/train/configs.js";
import { TrainerCore } from "../src/train/core.js";
import { trainDpo } from "../src/train/dpo.js";
import { trainGrpo } from "../src/train/group.js";
import { lastStagedChoice } from "../src/train/memory.js";
import { trainPpo } from "../src/train/ppo.js";
import { trainRewardModel } from "../src/train/reward.js";
import { trainSft } from "../src/train/sft.js";
import { type ShapeName, shapeModel } from "./scale-shapes.js";

type Probe = { shape: ShapeName; trainer: "sft" | "rm" | "dpo" | "ppo" | "grpo"; mode: "full" | "lora"; tokens?: number };
const probe = JSON.parse(process.argv[2] ?? "{}") as Probe;
// Steps only: no checkpoint or final model written (they would dominate at these sizes).
TrainerCore.prototype.save = async () => "";
TrainerCore.prototype.finish = async function (this: TrainerCore) {
  for (const slot of Object.values(this.optState.slots)) disposeTree(slot);
  this.optState = { ...this.optState, slots: {} };
};
const model = shapeModel(probe.shape);
const vocab = model.dims.vocabSize;
const rng = new Rng(1);
const n = probe.tokens ?? 16;
const tokens = (k: number) => Array.from({ length: k }, () => 1 + rng.int(vocab - 1));
const common = {
  model_name_or_path: "bench",
  train_file: "bench",
  output_dir: `/tmp/precept-wiring-probe-${process.pid}`,
  save_steps: 0,
  progress: false,
  max_steps: 1,
  ...(probe.mode === "lora" ? { lora: { r: 8, lora_alpha: 16 } } : {}),
};
const half = Math.floor(n / 2);
const prompts = [tokens(half), tokens(half)];
// Any reward that differs between samples (so advantages are not all zero): wiring, not quality.
const responseWords = ({ responses }: { responses: number[][] }) => responses.map((r) => (r.reduce((a, b) => a + b, 0) % 97) / 97);
let peakRss = process.memoryUsage().rss;
const sample = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 100);
const started = performance.now();
let error: string | null = null;
let history: Record<string, number>[] = [];
try {
  if (probe.trainer === "sft") {
    const train = [0, 1].map(() => {
      const ids = tokens(n);
      return { ids, lossMask: ids.map(() => 1) };
    });
    ({ history } = await trainSft({ config: sftConfigSchema.parse({ ...common, per_device_train_batch_size: 2 }), model, train }));
  } else if (probe.trainer === "rm") {
    const train = [0, 1].map(() => ({ chosen: tokens(n), rejected: tokens(n) }));
    ({ history } = await trainRewardModel({
      config: rewardConfigSchema.parse({ ...common, per_device_train_batch_size: 2 }),
      model,
      train,
    }));
  } else if (probe.trainer === "dpo") {
    const train = [0, 1].map(() => ({ prompt: tokens(half), chosen: tokens(half), rejected: tokens(half) }));
    const config = dpoConfigSchema.parse({ ...common, per_device_train_batch_size: 2 });
    ({ history } = await trainDpo({ config, model, ref: model.clone(), train }));
  } else if (probe.trainer === "ppo") {
    const config = ppoConfigSchema.parse({
      ...common,
      per_device_train_batch_size: 2,
      total_episodes: 2,
      num_ppo_epochs: 1,
      response_length: 4,
    });
    ({ history } = await trainPpo({ config, policy: model, ref: model.clone(), prompts, reward: { fn: responseWords } }));
  } else {
    const config = grpoConfigSchema.parse({
      ...common,
      per_device_train_batch_size: 2,
      num_generations: 2,
      total_episodes: 2,
      response_length: 4,
      beta: 0.04,
    });
    ({ history } = await trainGrpo({
      config,
      policy: model,
      ref: model.clone(),
      prompts: prompts.slice(0, 1),
      reward: { fn: responseWords },
    }));
  }
} catch (e) {
  error = String((e as Error).message ?? e).slice(0, 400);
}
clearInterval(sample);
const choice = lastStagedChoice();
const gib = (b: number | undefined) => (b === undefined ? null : +(b / 2 ** 30).toFixed(2));
const stats = heapStats();
console.log(
  JSON.stringify({
    ...probe,
    ok: error === null && history.length > 0 && Object.values(history[0] ?? {}).every((v) => Number.isFinite(v)),
    error,
    steps: history.length,
    first: history[0] ?? null,
    staged: choice?.staged ?? null,
    eagerJit: choice?.eager ?? null,
    estimateWholeGiB: gib(choice?.estimate?.whole),
    estimateStagedGiB: gib(choice?.estimate?.staged),
    seconds: +((performance.now() - started) / 1000).toFixed(1),
    heapGiB: gib(stats.heapBytes),
    peakLiveGiB: gib(stats.peakLiveBytes),
    rssGiB: gib(Math.max(peakRss, process.memoryUsage().rss)),
  }),
);
process.exit(0);
