/**
 * GPT-2 (Radford et al. 2019) as Hugging Face lays it out: learned position
 * embeddings, pre-LayerNorm blocks, GELU-tanh MLP, Conv1D weights stored
 * [in, out], and the LM head tied to the token embedding.
 *
 * Parameter names are those `save_pretrained` writes for GPT2LMHeadModel
 * (`transformer.h.0.attn.c_attn.weight`, ...); checkpoints without the
 * `transformer.` prefix (the original `gpt2` repository) load too.
 */
import { z } from "zod";
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import { embedding, embeddingOneHot, geluTanh, layerNorm } from "../engine/nn.js";
import type { Rng } from "../engine/rng.js";
import { disposeTree, normalInit, type ParamTree, unflattenNamed } from "../engine/tree.js";
import type { Architecture } from "./architecture.js";
import { attendWithCache, attentionMask, type ForwardInput, type LayerCache, mergeHeads, param, splitHeads } from "./attention.js";
import { project } from "./lora.js";

export const gpt2ConfigSchema = z
  .object({
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
    tie_word_embeddings: z.literal(true).default(true),
    bos_token_id: z.number().int().nullable().default(null),
    eos_token_id: z.number().int().nullable().default(null),
  })
  // Keep fields Precept does not use (dropout rates, summary_* settings, ...) so a saved config still describes the model fully.
  .passthrough();
export type Gpt2Config = z.output<typeof gpt2ConfigSchema>;

function blockShapes(d: number, inner: number): [string, number[]][] {
  return [
    ["ln_1.weight", [d]],
    ["ln_1.bias", [d]],
    ["attn.c_attn.weight", [d, 3 * d]],
    ["attn.c_attn.bias", [3 * d]],
    ["attn.c_proj.weight", [d, d]],
    ["attn.c_proj.bias", [d]],
    ["ln_2.weight", [d]],
    ["ln_2.bias", [d]],
    ["mlp.c_fc.weight", [d, inner]],
    ["mlp.c_fc.bias", [inner]],
    ["mlp.c_proj.weight", [inner, d]],
    ["mlp.c_proj.bias", [d]],
  ];
}

/** Random initialisation as `GPT2PreTrainedModel._init_weights` does it (residual projections scaled by 1/√(2·n_layer)). */
export function initGpt2(config: Gpt2Config, rng: Rng): ParamTree {
  const std = config.initializer_range;
  const residualStd = std / Math.sqrt(2 * config.n_layer);
  const initial = ([name, shape]: [string, number[]]): [string, JaxArray] => {
    if (/ln_\w+\.weight$/.test(name)) return [name, np.ones(shape)];
    if (name.endsWith(".bias")) return [name, np.zeros(shape)];
    return [name, normalInit(rng, shape, name.endsWith("c_proj.weight") ? residualStd : std)];
  };
  return unflattenNamed([...gpt2.expectedShapes(config)].map(initial));
}

/** Token plus position embeddings [B, T, D] and the attention mask every block reads. Reads params; consumes the input arrays. */
function embedGpt2(params: ParamTree, input: ForwardInput): { x: JaxArray; context: JaxArray[] } {
  const embed = input.embed === "onehot" ? embeddingOneHot : embedding;
  const x = embed(param(params, "transformer", "wte", "weight"), input.ids).add(
    embed(param(params, "transformer", "wpe", "weight"), input.positions),
  );
  return { x, context: [attentionMask(input.keyMask, input.querySlots)] };
}

/** One transformer block (pre-LayerNorm attention and MLP with residuals). Consumes x; keeps the weights and the context. */
function gpt2Block(
  block: ParamTree,
  config: Gpt2Config,
  x: JaxArray,
  context: JaxArray[],
  lora: ForwardInput["lora"],
  cache: ForwardInput["cache"],
  previous: LayerCache | undefined,
): { x: JaxArray; cache: LayerCache | null } {
  const [mask] = context as [JaxArray];
  const eps = config.layer_norm_epsilon;
  const a = layerNorm(x.ref, param(block, "ln_1", "weight"), param(block, "ln_1", "bias"), eps);
  const attn = block.attn as ParamTree;
  const mlp = block.mlp as ParamTree;
  const qkv = project(attn.c_attn as ParamTree, a, "conv1d", lora);
  const [q, k, v] = np.split(qkv, 3, -1);
  const heads = config.n_head;
  const attended = attendWithCache(
    splitHeads(q as never, heads),
    splitHeads(k as never, heads),
    splitHeads(v as never, heads),
    mask,
    cache,
    previous,
  );
  let out = x.add(project(attn.c_proj as ParamTree, mergeHeads(attended.out), "conv1d", lora));
  const m = layerNorm(out.ref, param(block, "ln_2", "weight"), param(block, "ln_2", "bias"), eps);
  const hidden = geluTanh(project(mlp.c_fc as ParamTree, m, "conv1d", lora));
  out = out.add(project(mlp.c_proj as ParamTree, hidden, "conv1d", lora));
  return { x: out, cache: attended.cache };
}

/** The final LayerNorm; reads params, consumes x. */
function finalGpt2(params: ParamTree, config: Gpt2Config, x: JaxArray): JaxArray {
  return layerNorm(
    x,
    param(params, "transformer", "ln_f", "weight"),
    param(params, "transformer", "ln_f", "bias"),
    config.layer_norm_epsilon,
  );
}

export const gpt2: Architecture<Gpt2Config> = {
  modelTypes: ["gpt2"],
  configSchema: gpt2ConfigSchema as unknown as z.ZodType<Gpt2Config>,
  dims: (c) => ({
    vocabSize: c.vocab_size,
    hiddenSize: c.n_embd,
    numLayers: c.n_layer,
    numHeads: c.n_head,
    numKvHeads: c.n_head,
    headDim: c.n_embd / c.n_head,
    maxPositions: c.n_positions,
    tieWordEmbeddings: true,
  }),
  init: initGpt2,
  expectedShapes(c) {
    const d = c.n_embd;
    const shapes = new Map<string, number[]>([
      ["transformer.wte.weight", [c.vocab_size, d]],
      ["transformer.wpe.weight", [c.n_positions, d]],
    ]);
    for (let i = 0; i < c.n_layer; i++) {
      for (const [name, shape] of blockShapes(d, c.n_inner ?? 4 * d)) shapes.set(`transformer.h.${i}.${name}`, shape);
    }
    shapes.set("transformer.ln_f.weight", [d]);
    shapes.set("transformer.ln_f.bias", [d]);
    return shapes;
  },
  canonicalName(name) {
    if (name === "lm_head.weight") return null; // tied to wte
    if (/(^|\.)h\.\d+\.attn\.(masked_)?bias$/.test(name)) return null; // causal-mask buffers in old checkpoints
    if (/^(wte|wpe|h|ln_f)\./.test(name)) return `transformer.${name}`;
    return name;
  },
  forward(params, config, input) {
    const { x: embedded, context } = embedGpt2(params, input);
    let x = embedded;
    const cacheOut: LayerCache[] = [];
    const previous = input.cache?.mode === "decode" ? input.cache.layers : [];
    for (let i = 0; i < config.n_layer; i++) {
      const block = ((params.transformer as ParamTree).h as ParamTree)[String(i)] as ParamTree;
      const out = gpt2Block(block, config, x, context, input.lora, input.cache, previous[i]);
      x = out.x;
      if (out.cache) cacheOut.push(out.cache);
    }
    for (const a of context) a.dispose();
    if (input.cache?.mode === "decode") input.cache.slot.dispose();
    const hidden = finalGpt2(params, config, x);
    disposeTree(params);
    return { hidden, cache: input.cache ? cacheOut : null };
  },
  stages: (c) => ({
    blocks: c.n_layer,
    blockPath: (i) => ["transformer", "h", String(i)],
    embed: (params, input) => embedGpt2(params, input),
    block: (block, x, context, lora) => gpt2Block(block, c, x, context, lora, undefined, undefined).x,
    final: (params, x) => finalGpt2(params, c, x),
  }),
  lmHeadWeight: (params) => param(params, "transformer", "wte", "weight"),
};
