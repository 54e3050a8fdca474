/**
 * How much memory a training step needs on the wasm engine, estimated before
 * the first step from the model's shape and the batch, and the choice it
 * drives: one jitted step over the whole model when that fits, the
 * block-by-block step (staged.ts) when only that fits, and otherwise a clear
 * error saying how much is needed and what to do, instead of a RangeError
 * deep inside jax-js after minutes of compiling.
 *
 * WebAssembly memory is 32-bit: one engine's arrays must fit in 4 GiB. The
 * per-token activation sizes below are upper estimates in floats, calibrated
 * against measured peaks (bench/memory-probe.ts) at real shapes.
 */
import { setEagerJit } from "../engine/eager-jit.js";
import { defaultDevice } from "../engine/jax.js";
import { heapStats } from "../engine/live-buffers.js";
import { tokensPerChunk } from "../engine/vocab-head.js";
import type { CausalLM } from "../models/model.js";

/** What the 32-bit wasm engine can address, less room for what the estimate does not see. */
export const WASM_BUDGET_BYTES = 0.9 * 2 ** 32;

export type MemoryEstimate = {
  weights: number;
  /** Gradients, AdamW's two moments, and the accumulated gradient when accumulating. */
  optimizer: number;
  /** Activations kept for the backward pass (and the head's chunks). */
  activationsWhole: number;
  activationsStaged: number;
  whole: number;
  staged: number;
};

/**
 * What the model's output is: "vocab", log-probs over the vocabulary (SFT, DPO, PPO: chunks of
 * [tokens, V] logits), or "score", a scalar head on the hidden states (a reward model), which
 * computes no logits; its vocabulary costs only the embedding's one-hot lookup and gradient when
 * the embedding trains.
 */
export type HeadKind = "vocab" | "score";

export function estimateTrainingMemory(
  model: CausalLM,
  {
    rows,
    length,
    trainableParams,
    headTrains,
    accumulation,
    head: kind = "vocab",
  }: { rows: number; length: number; trainableParams: number; headTrains: boolean; accumulation: number; head?: HeadKind },
): MemoryEstimate {
  const { vocabSize: v, hiddenSize: d, numLayers: layers, numHeads: heads } = model.dims;
  const inner = intermediateSize(model);
  const tokens = rows * length;
  const f32 = 4;
  // From the config, so a model too large to train is known before anything is allocated.
  const weights = [...model.arch.expectedShapes(model.config).values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0) * f32;
  const optimizer = trainableParams * f32 * (3 + (accumulation > 1 ? 1 : 0));
  // Per token and block: the residual stream, norms, q/k/v/o and MLP values (~24·D + 6·I floats),
  // and attention scores, softmax and mask per head (~3 per key).
  const perTokenBlock = (24 * d + 6 * inner + 3 * heads * length) * f32;
  const chunk = tokensPerChunk(v, tokens);
  // The head: a few chunk-sized [c, V] arrays; with a training head also onehot − p for every token and dW.
  // A scalar head has no logits: what is left of the vocabulary is the trained embedding's one-hot rows and gradient.
  const head =
    kind === "vocab"
      ? 6 * chunk * v * f32 + (headTrains ? tokens * v * f32 + 2 * v * d * f32 : 0) + (headTrains ? tokens * v : 0)
      : headTrains
        ? tokens * v * f32 + 2 * v * d * f32
        : 0;
  const activationsWhole = layers * tokens * perTokenBlock + head;
  const activationsStaged = (layers + 2) * tokens * d * f32 + 2 * tokens * perTokenBlock + head;
  return {
    weights,
    optimizer,
    activationsWhole,
    activationsStaged,
    whole: weights + optimizer + activationsWhole,
    staged: weights + optimizer + activationsStaged,
  };
}

function intermediateSize(model: CausalLM): number {
  const c = model.config as { intermediate_size?: number; n_inner?: number | null; n_embd?: number };
  return c.intermediate_size ?? c.n_inner ?? 4 * (c.n_embd ?? model.dims.hiddenSize);
}

export class TooLargeError extends Error {}

/** Steps estimated above this run eagerly, so their memory is what is live, not the sum of all buffers. */
const EAGER_ABOVE_BYTES = 256 * 2 ** 20;

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

export type StagedChoice = { trainer: string; staged: boolean; eager: boolean; estimate: MemoryEstimate | null };
let lastChoice: StagedChoice | null = null;

/** What the last `chooseStaged` call decided (for benches and logs). */
export function lastStagedChoice(): StagedChoice | null {
  return lastChoice;
}

/**
 * Whether to train block by block (true) or in one jitted step (false);
 * throws `TooLargeError` when neither fits. `PRECEPT_STAGED=1|0` forces the
 * choice (and skips the check). Only the wasm engine has the 4 GiB limit.
 * The reward model's trainer ("rm") has a scalar head unless `head` says otherwise.
 */
export function chooseStaged(
  trainer: string,
  model: CausalLM,
  options: {
    rows: number;
    length: number;
    trainableParams: number;
    headTrains: boolean;
    accumulation: number;
    lora: boolean;
    head?: HeadKind;
  },
  budget = WASM_BUDGET_BYTES,
): boolean {
  const forced = process.env.PRECEPT_STAGED;
  if (forced === "1" || forced === "0") {
    setEagerJit(forced === "1");
    lastChoice = { trainer, staged: forced === "1", eager: forced === "1", estimate: null };
    return forced === "1";
  }
  if (defaultDevice() !== "wasm") return false;
  const estimate = estimateTrainingMemory(model, { ...options, head: options.head ?? (trainer === "rm" ? "score" : "vocab") });
  // The model's own arrays are already in the heap: compare what is live besides them too.
  const other = Math.max(0, heapStats().liveBytes - estimate.weights);
  // Small steps keep jax-js's queued execution (see engine/eager-jit.ts); large ones need their frees to free.
  const eager = estimate.whole + other > EAGER_ABOVE_BYTES;
  setEagerJit(eager);
  lastChoice = { trainer, staged: estimate.whole + other > budget, eager, estimate };
  if (estimate.whole + other <= budget) return false;
  if (estimate.staged + other <= budget) return true;
  const advice = [
    options.lora ? null : "train a LoRA adapter (lora: {r: 8, lora_alpha: 16}): no gradients or AdamW state for the base weights",
    options.rows > 1
      ? `a smaller per_device_train_batch_size with gradient_accumulation_steps to keep the effective batch (now ${options.rows} rows of ${options.length} tokens per micro-batch)`
      : `shorter sequences (max_length; now ${options.length} tokens)`,
    "a GPU (--device webgpu), which has no 4 GiB limit",
  ].filter((a): a is string => a !== null);
  throw new TooLargeError(
    `${trainer}: this step needs about ${gib(estimate.staged + other)} even block by block (weights ${gib(estimate.weights)}, ` +
      `gradients and AdamW state ${gib(estimate.optimizer)}, activations ${gib(estimate.activationsStaged)}` +
      `${other > 0 ? `, other arrays ${gib(other)}` : ""}), more than the ${gib(budget)} the wasm engine can use (32-bit memory). ` +
      `Try: ${advice.join("; or ")}.`,
  );
}
