/**
 * GRPO's length bias, measured: `npx tsx bench/grpo-length.ts`. A tiny policy
 * (vocab 16, token 15 = EOS) answers prompts; the verifier says an answer is
 * right when it contains token 7, so a longer answer is more often right and
 * the loss's normalisation decides how lengths move. Same seeds, same data:
 * loss_type dapo (token-level) against grpo (per-sequence mean). Prints the
 * mean completion length of the first and last 3 generation batches and the
 * reward, and writes bench/results/grpo-length-<task>.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/device.js";
import { Rng } from "../src/engine/rng.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../src/models/gpt2.js";
import { CausalLM } from "../src/models/model.js";
import { grpoConfigSchema } from "../src/train/configs.js";
import { trainGrpo } from "../src/train/group.js";

const EOS = 15;
const tokenizer = {
  eosTokenIds: [EOS],
  vocabSize: 16,
  decode: (ids: number[]) => ids.join(" "),
  encode: (text: string) => text.split(" ").map(Number),
  // What saving the final model asks of a tokenizer.
  stopStrings: [],
  bosTokenId: null,
  padTokenId: null,
  chatTemplate: null,
  toTokenizerConfig: () => ({}),
  toTokenizerJson: () => ({}),
};
const PROMPTS = Array.from({ length: 16 }, (_, i) => [1 + (i % 5), 2 + (i % 7)]);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
// TASK=contains (default): right when the answer contains token 7 anywhere, so length pays.
// TASK=first: right when the answer starts with token 7, so length is irrelevant to the reward and any drift is the loss's.
const task = process.env.TASK === "first" ? "first" : "contains";
const verifier = ({ responses }: { responses: number[][] }) =>
  responses.map((r) => ((task === "first" ? r[0] === 7 : r.includes(7)) ? 1 : 0));

await initEngine();
const tmp = mkdtempSync(join(tmpdir(), "precept-grpo-length-"));
const rows: Record<string, number | string>[] = [];
for (const seed of [0, 1, 2]) {
  for (const lossType of ["dapo", "grpo"] as const) {
    const modelConfig = gpt2ConfigSchema.parse({ vocab_size: 16, n_positions: 48, n_embd: 32, n_layer: 1, n_head: 2 });
    const policy = new CausalLM(gpt2 as never, modelConfig, initGpt2(modelConfig, new Rng(seed)), tokenizer as never);
    const config = grpoConfigSchema.parse({
      model_name_or_path: "unused",
      train_file: "unused",
      output_dir: join(tmp, `${lossType}-${seed}`),
      response_length: 24,
      temperature: 1,
      learning_rate: 1e-2,
      save_steps: 0,
      progress: false,
      per_device_train_batch_size: 16,
      num_generations: 8,
      total_episodes: 480,
      seed,
      loss_type: lossType,
    });
    const { history } = await trainGrpo({ config, policy, ref: policy, prompts: PROMPTS, reward: { fn: verifier } });
    const length = (h: Record<string, number>[]) => mean(h.map((r) => r["completions/mean_length"] as number));
    const reward = (h: Record<string, number>[]) => mean(h.map((r) => r.reward as number));
    const row = {
      task,
      seed,
      loss_type: lossType,
      length_first3: length(history.slice(0, 3)),
      length_last3: length(history.slice(-3)),
      drift: length(history.slice(-3)) - length(history.slice(0, 3)),
      reward_first3: reward(history.slice(0, 3)),
      reward_last3: reward(history.slice(-3)),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    policy.dispose();
  }
}
rmSync(tmp, { recursive: true, force: true });
for (const lossType of ["dapo", "grpo"]) {
  const mine = rows.filter((r) => r.loss_type === lossType);
  console.log(`${lossType}: mean drift ${mean(mine.map((r) => r.drift as number)).toFixed(2)} tokens over ${mine.length} seeds`);
}
mkdirSync("bench/results", { recursive: true });
writeFileSync(`bench/results/grpo-length-${task}.json`, `${JSON.stringify(rows, null, 1)}\n`);
