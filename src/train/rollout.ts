/**
 * Rollouts for the online trainers (PPO, GRPO, RLOO): sample responses from
 * the policy, lay prompt + response out as one right-padded batch with a mask
 * over the response tokens, and score it under a model: per-token log-probs
 * of the response, per-token entropy, and (with a value head) values.
 *
 * Token t of a row is predicted by position t − 1, so per-token arrays have
 * T − 1 columns and column j describes token j + 1.
 */
import { type Array as JaxArray, jit, numpy as np } from "../engine/jax.js";
import { readFloats } from "../engine/ownership.js";
import { disposeTree, type ParamTree, treeRef } from "../engine/tree.js";
import { type HeadOptions, headLogProbs } from "../engine/vocab-head.js";
import { batchArrays, bucket, padBatch } from "../models/batch.js";
import { type Generation, generateTokens } from "../models/generate.js";
import { batchInput, type CausalLM, hiddenStates, type ModelParts } from "../models/model.js";

/** The given rows of a row-major [B, cols] array, in that order. */
export function pickRows<T extends Int32Array | Uint8Array | Float32Array>(data: T, rows: number[], cols: number): T {
  const out = new (data.constructor as new (n: number) => T)(rows.length * cols);
  for (const [i, row] of rows.entries()) out.set(data.subarray(row * cols, (row + 1) * cols), i * cols);
  return out;
}

export type Rollout = {
  prompts: number[][];
  responses: number[][];
  /** Whether each response ended with an EOS token. */
  endedWithEos: boolean[];
  /** Padded width T of the prompt + response batch. */
  width: number;
  ids: Int32Array;
  positions: Int32Array;
  attention: Uint8Array;
  /** [B, T − 1] 1 where column j predicts a response token. */
  responseMask: Float32Array;
  /** Index (in 0..T−1) of each row's last real token, where a reward model reads its score. */
  lastIndex: Int32Array;
};

/**
 * Every prompt plus `maxNewTokens` must fit the model's positions; checked
 * before training starts, naming the option to lower (generation alone would
 * stop mid-run with only token counts).
 */
export function checkResponseRoom(trainer: string, option: string, prompts: number[][], maxNewTokens: number, model: CausalLM): void {
  const positions = model.dims.maxPositions;
  const longest = Math.max(...prompts.map((p) => p.length));
  if (longest + maxNewTokens <= positions) return;
  const fix = longest < positions ? `lower ${option} to ${positions - longest} or less, or shorten the prompts` : "shorten the prompts";
  throw new Error(
    `${trainer}: the longest prompt (${longest} tokens) + ${option} ${maxNewTokens} is more than the model's ${positions} positions; ${fix}`,
  );
}

export async function sampleRollout(
  policy: CausalLM,
  prompts: number[][],
  options: { maxNewTokens: number; temperature: number; topK?: number; topP?: number; seed: number },
): Promise<{ rollout: Rollout; generations: Generation[] }> {
  const generations = await generateTokens(policy, prompts, { ...options, temperature: options.temperature });
  const eos = new Set(policy.tokenizer?.eosTokenIds ?? []);
  const responses = generations.map((g) => g.tokens);
  return {
    rollout: layoutRollout(prompts, responses, policy.padId, (r) => r.length > 0 && eos.has(r[r.length - 1] as number)),
    generations,
  };
}

/** Lays out prompt + response rows (right padding) and the response mask. */
export function layoutRollout(
  prompts: number[][],
  responses: number[][],
  padId: number,
  endsWithEos: (response: number[]) => boolean,
): Rollout {
  const rows = prompts.map((p, i) => [...p, ...(responses[i] as number[])]);
  const batch = padBatch(rows, { side: "right", padId, length: bucket(Math.max(...rows.map((r) => r.length)), 16) });
  const width = batch.length;
  const responseMask = new Float32Array(batch.batch * (width - 1));
  const lastIndex = new Int32Array(batch.batch);
  const empty = prompts.findIndex((p) => p.length === 0);
  if (empty >= 0) throw new Error(`rollout: prompt ${empty} is empty; a response needs at least one conditioning token (add a BOS token)`);
  prompts.forEach((prompt, b) => {
    const length = (responses[b] as number[]).length;
    for (let j = 0; j < length; j++) responseMask[b * (width - 1) + prompt.length - 1 + j] = 1;
    lastIndex[b] = prompt.length + length - 1;
  });
  return {
    prompts,
    responses,
    endedWithEos: responses.map(endsWithEos),
    width,
    ids: batch.ids,
    positions: batch.positions,
    attention: batch.mask,
    responseMask,
    lastIndex,
  };
}

/** Device arrays of a rollout (or of the rows `select` picks, for minibatches). */
export function rolloutArrays(rollout: Rollout, select?: number[]) {
  const rows = select ?? rollout.prompts.map((_, i) => i);
  const width = rollout.width;
  const pick = <T extends Int32Array | Uint8Array | Float32Array>(data: T, cols: number): T => pickRows(data, rows, cols);
  const { ids, positions, keyMask } = batchArrays({
    batch: rows.length,
    length: width,
    ids: pick(rollout.ids, width),
    mask: pick(rollout.attention, width),
    positions: pick(rollout.positions, width),
    starts: [],
    lengths: [],
  });
  return {
    ids,
    positions,
    keyMask,
    responseMask: np.array(pick(rollout.responseMask, width - 1)).reshape([rows.length, width - 1]),
    lastIndex: np.array(
      Int32Array.from(rows, (r) => rollout.lastIndex[r] as number),
      { dtype: np.int32 },
    ),
  };
}

/**
 * Per-token log-probs [B, T−1] of the tokens in `ids` (at temperature
 * `temperature`, as sampled), the entropy of each predictive distribution,
 * and the value head's estimates when the model has one. Consumes `params`
 * and the arrays.
 */
export function scoreTokens(
  model: ModelParts,
  params: ParamTree,
  input: { ids: JaxArray; positions: JaxArray; keyMask: JaxArray },
  temperature: number,
  /** What the log-probs carry gradients to (engine/vocab-head.ts): "none" for scoring, "weight" when the LM head trains. */
  gradients: HeadOptions["gradients"] = "weight",
): { logprobs: JaxArray; entropy: JaxArray; values: JaxArray | null } {
  const view = treeRef(params);
  const ids = input.ids.ref;
  const { hidden } = hiddenStates(model, params, batchInput(input));
  const out = scoreTokensFromHidden(model, view, hidden, ids, temperature, gradients);
  disposeTree(view);
  return out;
}

/**
 * `scoreTokens` after the model's forward pass (the loss tail of a
 * block-by-block step, train/staged.ts): reads `params` (adding references),
 * consumes the final hidden states [B, T, D] and the ids [B, T].
 */
export function scoreTokensFromHidden(
  model: ModelParts,
  params: ParamTree,
  hidden: JaxArray,
  ids: JaxArray,
  temperature: number,
  gradients: HeadOptions["gradients"] = "weight",
): { logprobs: JaxArray; entropy: JaxArray; values: JaxArray | null } {
  const [rows, width] = ids.shape as [number, number];
  const targets = ids.slice([], [1, width]).reshape([rows * (width - 1)]);
  const head = model.arch.lmHeadWeight(params, model.config);
  const valueHead = (params.v_head as ParamTree | undefined)?.summary as ParamTree | undefined;
  const vWeight = valueHead ? (valueHead.weight as JaxArray).ref : null;
  const vBias = valueHead ? (valueHead.bias as JaxArray).ref : null;
  const used = hidden.slice([], [0, width - 1]);
  const d = used.shape[2] as number;
  // In token chunks, with the head's gradients by hand: full logits at a real vocabulary do not fit.
  const { logprobs, entropy } = headLogProbs(used.ref.reshape([rows * (width - 1), d]), head, targets, {
    temperature: Math.max(temperature, 1e-7),
    entropy: true,
    gradients,
  });
  let values: JaxArray | null = null;
  if (vWeight && vBias) values = np.squeeze(np.matmul(used, np.transpose(vWeight)).add(vBias), -1);
  else used.dispose();
  return { logprobs: logprobs.reshape([rows, width - 1]), entropy: (entropy as JaxArray).reshape([rows, width - 1]), values };
}

/** `scoreTokens` under jit, read back to the host (for rollouts: old log-probs, reference log-probs, values). */
export async function scoreRolloutOnHost(
  model: CausalLM,
  rollout: Rollout,
  temperature: number,
): Promise<{ logprobs: Float32Array; entropy: Float32Array; values: Float32Array | null }> {
  const byTemperature = hostScorers.get(model) ?? new Map<number, HostScorer>();
  hostScorers.set(model, byTemperature);
  let fn = byTemperature.get(temperature);
  if (!fn) {
    fn = jit((params: ParamTree, ids: JaxArray, positions: JaxArray, keyMask: JaxArray) => {
      const out = scoreTokens(model, params, { ids, positions, keyMask }, temperature, "none");
      return out.values ? [out.logprobs, out.entropy, out.values] : [out.logprobs, out.entropy];
    }) as unknown as HostScorer;
    byTemperature.set(temperature, fn);
  }
  const arrays = rolloutArrays(rollout);
  arrays.responseMask.dispose();
  arrays.lastIndex.dispose();
  const outs = fn(treeRef(model.params), arrays.ids, arrays.positions, arrays.keyMask);
  return {
    logprobs: await readFloats(outs[0] as JaxArray),
    entropy: await readFloats(outs[1] as JaxArray),
    values: outs[2] ? await readFloats(outs[2]) : null,
  };
}

type HostScorer = (params: ParamTree, ids: JaxArray, positions: JaxArray, keyMask: JaxArray) => JaxArray[];
const hostScorers = new WeakMap<object, Map<number, HostScorer>>();
