/**
 * GPT-2 (Radford et al. 2019) as Hugging Face lays it out: learned position
 * embeddings, pre-LayerNorm blocks, GELU-tanh MLP, Conv1D weights stored
 * [in, out], and the LM head tied to the token embedding.
 *
 * Parameter names are HF's (`wte.weight`, `h.0.attn.c_attn.weight`, ...),
 * so a tree flattens straight to a checkpoint.
 */
import { z } from "zod";
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import { attention, causalMask, conv1d, embedding, embeddingOneHot, geluTanh, layerNorm } from "../engine/nn.js";
import type { Rng } from "../engine/rng.js";
import { disposeTree, normalInit, type ParamTree } from "../engine/tree.js";

export const gpt2ConfigSchema = z.object({
  model_type: z.literal("gpt2").default("gpt2"),
  vocab_size: z.number().int().positive(),
  n_positions: z.number().int().positive().default(1024),
  n_embd: z.number().int().positive().default(768),
  n_layer: z.number().int().positive().default(12),
  n_head: z.number().int().positive().default(12),
  n_inner: z.number().int().positive().nullable().default(null),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  activation_function: z.enum(["gelu_new", "gelu_pytorch_tanh"]).default("gelu_new"),
  initializer_range: z.number().positive().default(0.02),
  tie_word_embeddings: z.boolean().default(true),
  bos_token_id: z.number().int().nullable().default(null),
  eos_token_id: z.number().int().nullable().default(null),
});
export type Gpt2Config = z.output<typeof gpt2ConfigSchema>;

/** Random initialisation as `GPT2PreTrainedModel._init_weights` does it (residual projections scaled by 1/√(2·n_layer)). */
export function initGpt2(config: Gpt2Config, rng: Rng): ParamTree {
  const { n_embd: d, n_layer, vocab_size, n_positions, initializer_range: std } = config;
  const inner = config.n_inner ?? 4 * d;
  const residualStd = std / Math.sqrt(2 * n_layer);
  const h: ParamTree = {};
  for (let i = 0; i < n_layer; i++) {
    h[String(i)] = {
      ln_1: { weight: np.ones([d]), bias: np.zeros([d]) },
      attn: {
        c_attn: { weight: normalInit(rng, [d, 3 * d], std), bias: np.zeros([3 * d]) },
        c_proj: { weight: normalInit(rng, [d, d], residualStd), bias: np.zeros([d]) },
      },
      ln_2: { weight: np.ones([d]), bias: np.zeros([d]) },
      mlp: {
        c_fc: { weight: normalInit(rng, [d, inner], std), bias: np.zeros([inner]) },
        c_proj: { weight: normalInit(rng, [inner, d], residualStd), bias: np.zeros([d]) },
      },
    };
  }
  return {
    wte: { weight: normalInit(rng, [vocab_size, d], std) },
    wpe: { weight: normalInit(rng, [n_positions, d], std) },
    h,
    ln_f: { weight: np.ones([d]), bias: np.zeros([d]) },
  };
}

const leaf = (tree: ParamTree, ...path: string[]): JaxArray => {
  let node: JaxArray | ParamTree = tree;
  for (const key of path) node = (node as ParamTree)[key] as JaxArray | ParamTree;
  return (node as JaxArray).ref;
};

/** [B, T, H·Dh] → [B, H, T, Dh] */
function splitHeads(x: JaxArray, heads: number): JaxArray {
  const [b, t, d] = x.shape as [number, number, number];
  return np.transpose(x.reshape([b, t, heads, d / heads]), [0, 2, 1, 3]);
}

/** [B, H, T, Dh] → [B, T, H·Dh] */
function mergeHeads(x: JaxArray): JaxArray {
  const [b, h, t, dh] = x.shape as [number, number, number, number];
  return np.transpose(x, [0, 2, 1, 3]).reshape([b, t, h * dh]);
}

/**
 * Logits [B, T, vocab] for token ids [B, T] (int32). Consumes `params` and
 * `ids`, as jax-js functions do: pass `treeRef(params)` to keep the weights.
 * Full causal attention over the sequence; generation with a KV cache and
 * padding masks build on the same blocks.
 */
export function gpt2Logits(params: ParamTree, config: Gpt2Config, ids: JaxArray, options: { embed?: "gather" | "onehot" } = {}): JaxArray {
  const [, t] = ids.shape as [number, number];
  if (t > config.n_positions) throw new Error(`sequence of ${t} tokens exceeds n_positions = ${config.n_positions}`);
  const eps = config.layer_norm_epsilon;
  const positions = np.arange(t).astype(np.int32);
  // Whole training steps run under jit, where the gather's gradient (a scatter) is not allowed: embed by one-hot there.
  const embed = options.embed === "onehot" ? embeddingOneHot : embedding;
  let x = embed(leaf(params, "wte", "weight"), ids).add(embed(leaf(params, "wpe", "weight"), positions));
  const mask = causalMask(t);
  for (let i = 0; i < config.n_layer; i++) {
    const block = (params.h as ParamTree)[String(i)] as ParamTree;
    const a = layerNorm(x.ref, leaf(block, "ln_1", "weight"), leaf(block, "ln_1", "bias"), eps);
    const qkv = conv1d(a, leaf(block, "attn", "c_attn", "weight"), leaf(block, "attn", "c_attn", "bias"));
    const [q, k, v] = np.split(qkv, 3, -1) as [JaxArray, JaxArray, JaxArray];
    const heads = config.n_head;
    const attended = mergeHeads(attention(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads), mask.ref));
    x = x.add(conv1d(attended, leaf(block, "attn", "c_proj", "weight"), leaf(block, "attn", "c_proj", "bias")));
    const m = layerNorm(x.ref, leaf(block, "ln_2", "weight"), leaf(block, "ln_2", "bias"), eps);
    const hidden = geluTanh(conv1d(m, leaf(block, "mlp", "c_fc", "weight"), leaf(block, "mlp", "c_fc", "bias")));
    x = x.add(conv1d(hidden, leaf(block, "mlp", "c_proj", "weight"), leaf(block, "mlp", "c_proj", "bias")));
  }
  mask.dispose();
  x = layerNorm(x, leaf(params, "ln_f", "weight"), leaf(params, "ln_f", "bias"), eps);
  const logits = np.matmul(x, np.transpose(leaf(params, "wte", "weight")));
  disposeTree(params);
  return logits;
}
