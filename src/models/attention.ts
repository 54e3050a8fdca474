/**
 * What every architecture's forward pass shares: the inputs (token ids,
 * positions, which key slots hold real tokens), the attention mask, and the
 * key/value cache used by generation.
 *
 * The cache has a fixed number of slots S per layer ([B, Hkv, S, Dh]) so that
 * jit compiles a decode step once per (batch, S) bucket. Prompts are
 * left-padded, so every row writes the same slot at each step:
 * - "none":    no cache; keys are this call's T tokens (training, scoring);
 * - "prefill": the T prompt tokens fill slots [0, T) of a fresh S-slot cache;
 * - "decode":  one new token is written into slot `slot` of the cache.
 */
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import { attention, materialize } from "../engine/nn.js";
import type { LoraRuntime } from "./lora.js";

export type LayerCache = { k: JaxArray; v: JaxArray };

export type ForwardInput = {
  /** Token ids [B, T], int32. */
  ids: JaxArray;
  /** Position of each token [B, T], int32 (left padding shifts them per row). */
  positions: JaxArray;
  /** [B, S] bool: true where a key slot holds a real token (S = T without a cache). */
  keyMask: JaxArray;
  /** Slot index of each query token [T], int32: a query sees keys in slots ≤ its own. */
  querySlots: JaxArray;
  cache?: { mode: "prefill"; slots: number } | { mode: "decode"; slot: JaxArray; layers: LayerCache[] };
  /** "onehot" when the whole training step runs under jit (see `embeddingOneHot`). */
  embed?: "gather" | "onehot";
  /** LoRA scale (and training dropout) when the tree holds adapter weights; set from the model by `lmLogits` and friends. */
  lora?: LoraRuntime | undefined;
};

/** [B, 1, T, S] bool: key slot j is visible to query i when it holds a real token and j ≤ slot(i). Consumes both. */
export function attentionMask(keyMask: JaxArray, querySlots: JaxArray): JaxArray {
  const [b, s] = keyMask.shape as [number, number];
  const t = querySlots.shape[0] as number;
  const causal = np.lessEqual(np.arange(s).astype(np.int32).reshape([1, s]), querySlots.reshape([t, 1]));
  return np.logicalAnd(keyMask.reshape([b, 1, 1, s]), causal.reshape([1, 1, t, s]));
}

/**
 * Grouped-query attention: query heads h·g … h·g + g − 1 share key/value head
 * h. Rather than repeating k and v g times (a broadcast that jax-js 0.1.25
 * feeds to matmul about 7x slower), the g query heads of a group are stacked
 * along the sequence axis: q [B, H, T, Dh] → [B, Hkv, g·T, Dh], with the mask
 * tiled to match. Consumes q, k, v and mask.
 */
export function groupedAttention(q: JaxArray, k: JaxArray, v: JaxArray, mask: JaxArray): JaxArray {
  const [b, h, t, d] = q.shape as [number, number, number, number];
  const kvHeads = k.shape[1] as number;
  const groups = h / kvHeads;
  if (groups === 1) return attention(q, k, v, mask);
  const stacked = attention(q.reshape([b, kvHeads, groups * t, d]), k, v, np.tile(mask, [1, 1, groups, 1]));
  return stacked.reshape([b, h, t, d]);
}

/**
 * Attention of this call's queries over the cache (after writing this call's
 * keys and values into it). q [B, H, T, Dh]; k, v [B, Hkv, T, Dh]. Returns the
 * attended values [B, H, T, Dh] and the layer's new cache (null without one).
 * Consumes q, k, v and `previous`; keeps `mask` and the slot.
 */
export function attendWithCache(
  q: JaxArray,
  k: JaxArray,
  v: JaxArray,
  mask: JaxArray,
  cache: ForwardInput["cache"],
  previous: LayerCache | undefined,
): { out: JaxArray; cache: LayerCache | null } {
  if (!cache) return { out: groupedAttention(q, k, v, mask.ref), cache: null };
  let keys: JaxArray;
  let values: JaxArray;
  if (cache.mode === "prefill") {
    const extra = cache.slots - (k.shape[2] as number);
    const padding: [number, number][] = [
      [0, 0],
      [0, 0],
      [0, extra],
      [0, 0],
    ];
    keys = extra > 0 ? np.pad(k, padding) : k;
    values = extra > 0 ? np.pad(v, padding) : v;
  } else {
    if (!previous) throw new Error("decode step without a cache for this layer");
    const slots = previous.k.shape[2] as number;
    const here = np.equal(np.arange(slots).astype(np.int32), cache.slot.ref).reshape([1, 1, slots, 1]);
    keys = np.where(here.ref, k, previous.k);
    values = np.where(here, v, previous.v);
  }
  const out = groupedAttention(q, keys.ref, values.ref, mask.ref);
  return { out, cache: { k: keys, v: values } };
}

/** [B, T, H·Dh] → [B, H, T, Dh] */
export function splitHeads(x: JaxArray, heads: number): JaxArray {
  const [b, t, d] = x.shape as [number, number, number];
  return np.transpose(x.reshape([b, t, heads, d / heads]), [0, 2, 1, 3]);
}

/** [B, H, T, Dh] → [B, T, H·Dh], materialized so the output projection reads a contiguous input (see `materialize`). */
export function mergeHeads(x: JaxArray): JaxArray {
  const [b, h, t, dh] = x.shape as [number, number, number, number];
  return materialize(np.transpose(x, [0, 2, 1, 3]).reshape([b, t, h * dh]));
}

/** Reads a leaf by path and adds a reference, for forward passes that consume their parameter tree at the end. */
export function param(tree: Record<string, unknown>, ...path: string[]): JaxArray {
  let node: unknown = tree;
  for (const key of path) {
    node = (node as Record<string, unknown>)[key];
    if (node === undefined) throw new Error(`missing parameter ${path.join(".")}`);
  }
  return (node as JaxArray).ref;
}
