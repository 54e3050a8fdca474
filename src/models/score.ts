/**
 * Scoring: the log-prob of each completion token under the model, given its
 * prompt. This is the building block of SFT (the loss is its negative mean),
 * DPO (sums over chosen and rejected completions) and PPO (per-token ratios).
 */
import { withEagerJit } from "../engine/eager-jit.js";
import { type Array as JaxArray, jit, numpy as np } from "../engine/jax.js";
import { readFloats } from "../engine/ownership.js";
import { type ParamTree, treeRef } from "../engine/tree.js";
import { type HeadOptions, headLogProbs } from "../engine/vocab-head.js";
import type { ForwardInput } from "./attention.js";
import { batchArrays, bucket, padBatch } from "./batch.js";
import { type CausalLM, fullInput, hiddenStates, type ModelParts, scoreHead } from "./model.js";

/**
 * Log-probs [B, T−1] of each next token: entry t is log p(ids[t+1] | ids[≤t]).
 * Consumes `params` and the input. Mask the prompt and padding positions with
 * `completionMask` (or your own loss mask) before reducing. To differentiate
 * the result, set `gradients` ("hidden", or "weight" when the LM head trains);
 * see engine/vocab-head.ts.
 */
export function nextTokenLogProbs(
  model: ModelParts,
  params: ParamTree,
  input: ForwardInput,
  options: Pick<HeadOptions, "temperature" | "gradients" | "chunk"> = {},
): JaxArray {
  const ids = input.ids.ref;
  const weight = model.arch.lmHeadWeight(params, model.config);
  const { hidden } = hiddenStates(model, params, input);
  return nextTokenLogProbsFromHidden(hidden, weight, ids, options);
}

/**
 * The same from final hidden states [B, T, D], the LM head weight [V, D] and
 * the token ids [B, T]; consumes all three. In token chunks: full [B, T,
 * vocab] logits at a real vocabulary are hundreds of megabytes.
 */
export function nextTokenLogProbsFromHidden(
  hidden: JaxArray,
  weight: JaxArray,
  ids: JaxArray,
  options: Pick<HeadOptions, "temperature" | "gradients" | "chunk"> = {},
): JaxArray {
  const [rows, length] = ids.shape as [number, number];
  const width = length - 1;
  const targets = ids.slice([], [1, length]).reshape([rows * width]);
  const used = hidden.slice([], [0, width]).reshape([rows * width, hidden.shape[2] as number]);
  return headLogProbs(used, weight, targets, options).logprobs.reshape([rows, width]);
}

const scorers = new WeakMap<
  object,
  (params: ParamTree, ids: JaxArray, positions: JaxArray, keyMask: JaxArray, querySlots: JaxArray) => JaxArray
>();

function scorer(model: ModelParts) {
  let found = scorers.get(model);
  if (!found) {
    found = jit((params: ParamTree, ids: JaxArray, positions: JaxArray, keyMask: JaxArray, querySlots: JaxArray) =>
      nextTokenLogProbs(model, params, { ids, positions, keyMask, querySlots }),
    );
    scorers.set(model, found);
  }
  return found;
}

/**
 * Per-token log-probs of each completion given its prompt (prompt tokens are
 * conditioned on, not scored). Returns one Float32Array per row, as long as
 * the completion (empty for an empty completion).
 */
export async function scoreCompletions(model: CausalLM, prompts: number[][], completions: number[][]): Promise<Float32Array[]> {
  if (prompts.length !== completions.length) throw new Error(`${prompts.length} prompts but ${completions.length} completions`);
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`prompt ${i} is empty: scoring needs at least one conditioning token (add a BOS token)`);
  });
  const rows = prompts.map((p, i) => [...p, ...(completions[i] as number[])]);
  model.checkIds(rows);
  const batch = padBatch(rows, { side: "right", padId: model.padId, length: bucket(Math.max(...rows.map((r) => r.length)), 16) });
  const { ids, positions, keyMask } = batchArrays(batch);
  const logProbs = await readFloats(
    withEagerJit(() => scorer(model)(treeRef(model.params), ids, positions, keyMask, np.arange(batch.length).astype(np.int32))),
  );
  const width = batch.length - 1;
  return prompts.map((p, b) => {
    const start = b * width + p.length - 1;
    return logProbs.slice(start, start + (completions[b] as number[]).length);
  });
}

/**
 * A reward model's score of each full sequence (prompt + response tokens):
 * its score head at the row's last real token. Rows are right-padded.
 */
export async function scoreSequences(model: CausalLM, rows: number[][]): Promise<number[]> {
  if (!model.hasScoreHead) throw new Error(`${model.source ?? "the model"} has no score head: not a reward model`);
  model.checkIds(rows);
  const input = fullInput(rows, model.padId, "right");
  const lastIndex = np.array(
    Int32Array.from(rows, (r) => r.length - 1),
    { dtype: np.int32 },
  );
  return [...(await readFloats(scoreHead(model, treeRef(model.params), input, lastIndex)))];
}
