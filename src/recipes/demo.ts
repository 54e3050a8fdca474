/**
 * The demo (`precept demo`): the smallest end-to-end run of the engine and models. A
 * byte-level GPT-2 (2 layers, d=64) learns a few built-in sentences with
 * AdamW and a warm-up/cosine schedule under one jitted training step, shows
 * its loss fall, continues a prompt with the KV-cache generator, and saves
 * itself as a Hugging Face model directory (weights, config, tokenizer).
 */
import { clipByGlobalNorm } from "../engine/clip.js";
import { initEngine } from "../engine/device.js";
import { type Array as JaxArray, jit, numpy as np, valueAndGrad } from "../engine/jax.js";
import { crossEntropy } from "../engine/nn.js";
import { adamw } from "../engine/optim.js";
import { readNumber } from "../engine/ownership.js";
import { Rng } from "../engine/rng.js";
import { makeSchedule } from "../engine/schedule.js";
import { countParams, disposeTree, type ParamTree, treeRef } from "../engine/tree.js";
import { ByteTokenizer } from "../models/byte-tokenizer.js";
import { generate } from "../models/generate.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { saveModel } from "../models/io.js";
import { CausalLM, lmLogits, unpaddedInput } from "../models/model.js";

const CORPUS = [
  "A constitution is a short list of principles written in plain words.",
  "The model reads a principle, critiques its own answer, and revises it.",
  "A helpful answer explains the steps; a harmless answer protects people.",
  "Private data stays private: never share a customer's phone or address.",
  "For medical questions, give general information and suggest a doctor.",
  "To stop a stuck process, find its id and send it a signal.",
].join("\n");

export type DemoOptions = {
  steps: number;
  out: string;
  seed: number;
  /** Where its lines go (default: console.log). */
  log?: (line: string) => void;
  /** After each training step: 1-based step, its loss and the tokens per second so far. */
  onStep?: (step: number, loss: number, tokensPerSecond: number) => void;
};

export async function runDemo({
  steps,
  out,
  seed,
  log = console.log,
  onStep,
}: DemoOptions): Promise<{ firstLoss: number; lastLoss: number }> {
  const engine = await initEngine();
  const tokenizer = new ByteTokenizer();
  const config = gpt2ConfigSchema.parse({ vocab_size: tokenizer.vocabSize, n_positions: 96, n_embd: 64, n_layer: 2, n_head: 4 });
  const rng = new Rng(seed);
  const model = new CausalLM(gpt2 as never, config, initGpt2(config, rng), tokenizer);
  log(
    `precept demo: GPT-2 with ${countParams(model.params).toLocaleString()} parameters, byte vocabulary, on ${engine.device} with ${engine.threads} thread(s)`,
  );

  const text = tokenizer.encode(CORPUS);
  const batch = 16;
  const context = 48;
  const lossFn = (p: ParamTree, ids: JaxArray, targets: JaxArray) =>
    crossEntropy(lmLogits(model, p, unpaddedInput(ids, "onehot")).logits, targets);
  const step = jit(valueAndGrad(lossFn));
  const optimizer = adamw({ weightDecay: 0.01 });
  let state = optimizer.init(model.params);
  const schedule = makeSchedule({ type: "cosine", peak: 3e-3, warmupSteps: Math.min(20, steps), totalSteps: steps, minRatio: 0.1 });

  const started = performance.now();
  let firstLoss = Number.NaN;
  let lastLoss = Number.NaN;
  for (let i = 0; i < steps; i++) {
    const ids = new Int32Array(batch * context);
    const targets = new Int32Array(batch * context);
    for (let b = 0; b < batch; b++) {
      const offset = rng.int(text.length - context - 1);
      for (let t = 0; t < context; t++) {
        ids[b * context + t] = text[offset + t] as number;
        targets[b * context + t] = text[offset + t + 1] as number;
      }
    }
    const [loss, grads] = step(
      treeRef(model.params),
      np.array(ids).reshape([batch, context]),
      np.array(targets).reshape([batch, context]),
    ) as [JaxArray, ParamTree];
    const clipped = clipByGlobalNorm(grads, 1.0);
    clipped.norm.dispose();
    ({ params: model.params, state } = optimizer.update(model.params, clipped.grads, state, schedule(i)));
    lastLoss = await readNumber(loss);
    if (i === 0) firstLoss = lastLoss;
    const seconds = (performance.now() - started) / 1000;
    onStep?.(i + 1, lastLoss, ((i + 1) * batch * context) / seconds);
  }
  log(
    `loss ${firstLoss.toFixed(3)} → ${lastLoss.toFixed(3)} (a uniform guess over ${tokenizer.vocabSize} tokens is ${Math.log(tokenizer.vocabSize).toFixed(3)})`,
  );

  const prompt = "The model reads";
  const [sample] = await generate(model, [prompt], { maxNewTokens: 48, temperature: 0, stop: ["\n"] });
  log(`greedy continuation of "${prompt}": ${JSON.stringify(sample?.text)}`);

  await saveModel(model, out);
  log(`saved ${out}/ as a Hugging Face model directory (config.json, model.safetensors, tokenizer.json, ...)`);
  for (const slot of Object.values(state.slots)) disposeTree(slot);
  model.dispose();
  step.dispose();
  return { firstLoss, lastLoss };
}
