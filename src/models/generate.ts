/**
 * Batched generation with a key/value cache.
 *
 * Prompts are left-padded to a bucketed length and run once ("prefill"),
 * filling the first slots of a cache with a bucketed number of slots; then
 * each decode step feeds one token per row and writes one cache slot. Both
 * steps run under `jit`, compiled once per (batch, prompt bucket, cache
 * bucket), so decoding does not recompile from token to token.
 *
 * Sampling happens on the host from the last logits: greedy, or temperature
 * with optional top-k and top-p, from a seeded `Rng`. The log-prob returned
 * for each token is log softmax(logits / temperature) at that token (the
 * distribution before top-k/top-p truncation; temperature 1 for greedy),
 * which is what PPO-style trainers compare against.
 */
import { z } from "zod";
import { withEagerJit } from "../engine/eager-jit.js";
import { type Array as JaxArray, jit, numpy as np } from "../engine/jax.js";
import { readFloats } from "../engine/ownership.js";
import { Rng } from "../engine/rng.js";
import { type ParamTree, treeRef } from "../engine/tree.js";
import type { LayerCache } from "./attention.js";
import { batchArrays, bucket, padBatch } from "./batch.js";
import { type CausalLM, lmLogits, type ModelParts } from "./model.js";

export const generateOptionsSchema = z.object({
  maxNewTokens: z.number().int().positive().default(64),
  /** 0 means greedy. */
  temperature: z.number().min(0).default(1),
  topK: z.number().int().positive().optional(),
  topP: z.number().gt(0).max(1).optional(),
  /** Token ids that end a sequence (default: the tokenizer's EOS ids). The EOS token is kept in `tokens`. */
  eosTokenIds: z.array(z.number().int()).optional(),
  /** Strings that end a sequence; the text is cut before the first one (needs a tokenizer). */
  stop: z.array(z.string().min(1)).default([]),
  seed: z.number().int().default(0),
  /** One seed per prompt: row b samples from its own `Rng(seeds[b])`, so a row's tokens do not depend on the rows batched with it (overrides `seed`). */
  seeds: z.array(z.number().int()).optional(),
  /** Also return the k most likely tokens (and log-probs) at each step, as OpenAI's `top_logprobs`. */
  topLogprobs: z.number().int().min(0).max(20).default(0),
});
export type GenerateOptions = z.input<typeof generateOptionsSchema> & {
  /** Called for each new token of each row as it is sampled (for streaming). */
  onToken?: (row: number, token: number, logprob: number) => void;
  /** Stops generation between decode steps once aborted (a server's client went away), throwing an AbortError. */
  signal?: AbortSignal;
};

export type Generation = {
  /** Generated token ids (EOS included when it ended the sequence). */
  tokens: number[];
  /** Decoded text of the generated tokens (special tokens skipped, cut at a stop string); null without a tokenizer. */
  text: string | null;
  /** Log-prob of each generated token (see the module comment). */
  logprobs: number[];
  /** With `topLogprobs` k: the k most likely [token, log-prob] pairs at each step. */
  topLogprobs?: [number, number][][];
  finishReason: "eos" | "stop" | "length";
};

type Steps = {
  prefill: (params: ParamTree, ids: JaxArray, positions: JaxArray, keyMask: JaxArray, querySlots: JaxArray) => [JaxArray, LayerCache[]];
  decode: (
    params: ParamTree,
    cache: LayerCache[],
    ids: JaxArray,
    positions: JaxArray,
    keyMask: JaxArray,
    slot: JaxArray,
  ) => [JaxArray, LayerCache[]];
};

const stepsByModel = new WeakMap<object, Map<number, Steps>>();

let traces = 0;
/** How many times a prefill or decode step has been traced (compiled) by jit in this process: flat across decode steps of one bucket. */
export function generationTraceCount(): number {
  return traces;
}

/** The jitted prefill and decode steps of a model for a cache of `slots` slots (cached per model and slot count). */
function steps(model: ModelParts, slots: number): Steps {
  let bySlots = stepsByModel.get(model);
  if (!bySlots) {
    bySlots = new Map();
    stepsByModel.set(model, bySlots);
  }
  let found = bySlots.get(slots);
  if (!found) {
    const prefill = jit((params: ParamTree, ids: JaxArray, positions: JaxArray, keyMask: JaxArray, querySlots: JaxArray) => {
      traces++; // runs only while jit traces
      const { logits, cache } = lmLogits(model, params, { ids, positions, keyMask, querySlots, cache: { mode: "prefill", slots } });
      return [logits.slice([], -1), cache as LayerCache[]];
    });
    const decode = jit((params: ParamTree, cache: LayerCache[], ids: JaxArray, positions: JaxArray, keyMask: JaxArray, slot: JaxArray) => {
      traces++;
      const querySlots = slot.ref.reshape([1]);
      const { logits, cache: next } = lmLogits(model, params, {
        ids,
        positions,
        keyMask,
        querySlots,
        cache: { mode: "decode", slot, layers: cache },
      });
      return [logits.slice([], -1), next as LayerCache[]];
    });
    found = { prefill: prefill as unknown as Steps["prefill"], decode: decode as unknown as Steps["decode"] };
    bySlots.set(slots, found);
  }
  return found;
}

/** Generates continuations of token-id prompts. */
export async function generateTokens(model: CausalLM, prompts: number[][], input: GenerateOptions = {}): Promise<Generation[]> {
  const options = generateOptionsSchema.parse(input);
  const checkAborted = () => {
    if (input.signal?.aborted) throw new DOMException("generation aborted", "AbortError");
  };
  checkAborted(); // before any array is made
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`prompt ${i} is empty: a causal LM needs at least one token to condition on (add a BOS token)`);
  });
  model.checkIds(prompts);
  if (options.stop.length > 0 && !model.tokenizer) throw new Error("stop strings need a tokenizer to decode the generated text");
  const { maxPositions } = model.dims;
  const longest = Math.max(...prompts.map((p) => p.length));
  if (longest + options.maxNewTokens > maxPositions) {
    throw new Error(`prompt of ${longest} tokens + ${options.maxNewTokens} new tokens exceeds the model's ${maxPositions} positions`);
  }
  const eos = new Set(options.eosTokenIds ?? model.tokenizer?.eosTokenIds ?? []);
  const rng = new Rng(options.seed);
  if (options.seeds && options.seeds.length !== prompts.length)
    throw new Error(`seeds: expected one seed per prompt (${prompts.length}), got ${options.seeds.length}`);
  const rowRngs = options.seeds?.map((seed) => new Rng(seed));
  const promptLength = bucket(longest, 16);
  const slots = bucket(promptLength + options.maxNewTokens, 32);
  const batch = padBatch(prompts, { side: "left", padId: model.padId, length: promptLength });
  const keyMaskHost = new Int32Array(batch.batch * slots);
  for (let b = 0; b < batch.batch; b++)
    for (let t = 0; t < promptLength; t++) keyMaskHost[b * slots + t] = batch.mask[b * promptLength + t] as number;
  const keyMask = () => np.array(keyMaskHost, { dtype: np.int32 }).reshape([batch.batch, slots]).astype(np.bool);

  const { prefill, decode } = steps(model, slots);
  const { ids, positions, keyMask: promptOnlyMask } = batchArrays(batch);
  promptOnlyMask.dispose(); // the cache needs the wider [B, slots] mask built above
  let [logits, cache] = withEagerJit(() =>
    prefill(treeRef(model.params), ids, positions, keyMask(), np.arange(promptLength).astype(np.int32)),
  );

  const results: Generation[] = prompts.map(() => ({ tokens: [], text: null, logprobs: [], finishReason: "length" }));
  const done = prompts.map(() => false);
  try {
    for (let step = 0; step < options.maxNewTokens; step++) {
      const host = await readFloats(logits);
      if (input.signal) {
        // Let the event loop run (reading logits may not), so a server sees its client's socket close.
        await new Promise((resolve) => setImmediate(resolve));
        checkAborted(); // logits are read (freed); the catch below frees the cache
      }
      const vocab = host.length / batch.batch;
      const next = new Int32Array(batch.batch);
      for (let b = 0; b < batch.batch; b++) {
        const { token, logprob } = sampleToken(host.subarray(b * vocab, (b + 1) * vocab), options, rowRngs?.[b] ?? rng);
        next[b] = token;
        if (done[b]) continue;
        const result = results[b] as Generation;
        result.tokens.push(token);
        result.logprobs.push(logprob);
        if (options.topLogprobs > 0) {
          result.topLogprobs ??= [];
          result.topLogprobs.push(topTokens(host.subarray(b * vocab, (b + 1) * vocab), options.topLogprobs, options.temperature));
        }
        input.onToken?.(b, token, logprob);
        if (eos.has(token)) {
          result.finishReason = "eos";
          done[b] = true;
        } else if (options.stop.length > 0 && model.tokenizer) {
          const text = model.tokenizer.decode(result.tokens, { skipSpecialTokens: true });
          if (options.stop.some((s) => text.includes(s))) {
            result.finishReason = "stop";
            done[b] = true;
          }
        }
      }
      if (done.every(Boolean) || step === options.maxNewTokens - 1) {
        cache.forEach((layer) => {
          layer.k.dispose();
          layer.v.dispose();
        });
        break;
      }
      const slot = promptLength + step;
      for (let b = 0; b < batch.batch; b++) keyMaskHost[b * slots + slot] = 1;
      const stepPositions = Int32Array.from(prompts, (p) => p.length + step);
      const layers = cache;
      [logits, cache] = withEagerJit(() =>
        decode(
          treeRef(model.params),
          layers,
          np.array(next, { dtype: np.int32 }).reshape([batch.batch, 1]),
          np.array(stepPositions, { dtype: np.int32 }).reshape([batch.batch, 1]),
          keyMask(),
          np.array(slot, { dtype: np.int32 }),
        ),
      );
    }
  } catch (error) {
    cache.forEach((layer) => {
      if (layer.k.refCount > 0) layer.k.dispose();
      if (layer.v.refCount > 0) layer.v.dispose();
    });
    throw error;
  }
  if (model.tokenizer) {
    for (const result of results) {
      let text = model.tokenizer.decode(result.tokens, { skipSpecialTokens: true });
      for (const s of options.stop) {
        const at = text.indexOf(s);
        if (at >= 0) text = text.slice(0, at);
      }
      result.text = text;
    }
  }
  return results;
}

/** Generates continuations of text prompts (tokenized without special tokens added beyond the tokenizer's defaults). */
export async function generate(model: CausalLM, prompts: string[], options: GenerateOptions = {}): Promise<Generation[]> {
  const tokenizer = model.tokenizer;
  if (!tokenizer) throw new Error("this model has no tokenizer; pass token ids to generateTokens");
  return generateTokens(
    model,
    prompts.map((p) => tokenizer.encode(p)),
    options,
  );
}

/** The k most likely tokens of a row of logits with their log-probs (at the sampling temperature; 1 for greedy). */
export function topTokens(logits: Float32Array, k: number, temperature: number): [number, number][] {
  const scale = temperature === 0 ? 1 : 1 / temperature;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp((v - max) * scale);
  const logZ = Math.log(sum);
  const best: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    if (best.length < k || (logits[i] as number) > (logits[best[best.length - 1] as number] as number)) {
      best.push(i);
      best.sort((a, b) => (logits[b] as number) - (logits[a] as number));
      if (best.length > k) best.pop();
    }
  }
  return best.map((i) => [i, ((logits[i] as number) - max) * scale - logZ]);
}

/** Picks the next token from one row of logits. */
export function sampleToken(
  logits: Float32Array,
  options: { temperature: number; topK?: number | undefined; topP?: number | undefined },
  rng: Rng,
): { token: number; logprob: number } {
  const greedy = options.temperature === 0;
  const scale = greedy ? 1 : 1 / options.temperature;
  let max = Number.NEGATIVE_INFINITY;
  let argmax = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] as number;
    if (v > max) {
      max = v;
      argmax = i;
    }
  }
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(((logits[i] as number) - max) * scale);
  const logZ = Math.log(sum);
  const logprobOf = (i: number) => ((logits[i] as number) - max) * scale - logZ;
  if (greedy) return { token: argmax, logprob: logprobOf(argmax) };

  let candidates = Array.from(logits.keys());
  if (options.topK !== undefined || options.topP !== undefined) {
    candidates.sort((a, b) => (logits[b] as number) - (logits[a] as number));
    if (options.topK !== undefined) candidates = candidates.slice(0, options.topK);
    if (options.topP !== undefined) {
      let mass = 0;
      let keep = 0;
      while (keep < candidates.length && mass < options.topP) mass += Math.exp(logprobOf(candidates[keep++] as number));
      candidates = candidates.slice(0, Math.max(1, keep));
    }
  }
  const weights = candidates.map((i) => Math.exp(logprobOf(i)));
  const total = weights.reduce((a, b) => a + b, 0);
  let u = rng.uniform() * total;
  for (let j = 0; j < candidates.length; j++) {
    u -= weights[j] as number;
    if (u < 0) return { token: candidates[j] as number, logprob: logprobOf(candidates[j] as number) };
  }
  const last = candidates[candidates.length - 1] as number;
  return { token: last, logprob: logprobOf(last) };
}
