/**
 * The Llama family (Llama 2/3, Mistral, Qwen2, SmolLM, ...) as Hugging Face
 * lays it out: RMSNorm before attention and MLP, rotary position embeddings,
 * grouped-query attention (fewer key/value heads than query heads), a SwiGLU
 * MLP, optional q/k/v biases (Qwen2), and a tied or separate LM head.
 * Weights are `nn.Linear` [out, in]; names are `model.layers.0.self_attn.q_proj.weight`, ...
 */
import { z } from "zod";
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import { embedding, embeddingOneHot, rmsNorm, silu } from "../engine/nn.js";
import type { Rng } from "../engine/rng.js";
import { disposeTree, normalInit, type ParamTree, unflattenNamed } from "../engine/tree.js";
import type { Architecture } from "./architecture.js";
import { attendWithCache, attentionMask, type ForwardInput, type LayerCache, mergeHeads, param, splitHeads } from "./attention.js";
import { project } from "./lora.js";
import { applyRope, ropeInverseFrequencies, ropeTables } from "./rope.js";

const ropeScalingSchema = z.union([
  z.object({ rope_type: z.literal("linear"), factor: z.number().positive() }),
  z.object({
    rope_type: z.literal("llama3"),
    factor: z.number().positive(),
    low_freq_factor: z.number().positive(),
    high_freq_factor: z.number().positive(),
    original_max_position_embeddings: z.number().int().positive(),
  }),
]);

export const llamaConfigSchema = z
  .object({
    model_type: z.enum(["llama", "mistral", "qwen2"]),
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().nullish(),
    head_dim: z.number().int().positive().nullish(),
    max_position_embeddings: z.number().int().positive().default(2048),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().default(10000),
    // Older configs spell the type "type"; both are accepted.
    rope_scaling: z.preprocess(
      (v) => (v && typeof v === "object" && !("rope_type" in v) && "type" in v ? { ...v, rope_type: (v as { type: unknown }).type } : v),
      ropeScalingSchema.nullish(),
    ),
    attention_bias: z.boolean().optional(),
    mlp_bias: z.literal(false).default(false),
    hidden_act: z.literal("silu").default("silu"),
    tie_word_embeddings: z.boolean().default(false),
    initializer_range: z.number().positive().default(0.02),
    sliding_window: z.number().int().positive().nullish(),
    bos_token_id: z.union([z.number().int(), z.null()]).optional(),
    eos_token_id: z.union([z.number().int(), z.array(z.number().int()), z.null()]).optional(),
  })
  .passthrough()
  .transform((c) => ({
    ...c,
    num_key_value_heads: c.num_key_value_heads ?? c.num_attention_heads,
    head_dim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
    // Qwen2 always has q/k/v biases; Llama and Mistral only when attention_bias says so.
    attention_bias: c.attention_bias ?? c.model_type === "qwen2",
    rope_scaling: c.rope_scaling ?? null,
  }))
  .refine((c) => c.num_attention_heads % c.num_key_value_heads === 0, {
    message: "num_attention_heads must be a multiple of num_key_value_heads",
    path: ["num_key_value_heads"],
  });
export type LlamaConfig = z.output<typeof llamaConfigSchema>;

function layerShapes(c: LlamaConfig): [string, number[]][] {
  const d = c.hidden_size;
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  const shapes: [string, number[]][] = [
    ["input_layernorm.weight", [d]],
    ["self_attn.q_proj.weight", [q, d]],
    ["self_attn.k_proj.weight", [kv, d]],
    ["self_attn.v_proj.weight", [kv, d]],
    ["self_attn.o_proj.weight", [d, q]],
    ["post_attention_layernorm.weight", [d]],
    ["mlp.gate_proj.weight", [c.intermediate_size, d]],
    ["mlp.up_proj.weight", [c.intermediate_size, d]],
    ["mlp.down_proj.weight", [d, c.intermediate_size]],
  ];
  if (c.attention_bias) shapes.push(["self_attn.q_proj.bias", [q]], ["self_attn.k_proj.bias", [kv]], ["self_attn.v_proj.bias", [kv]]);
  return shapes;
}

const inverseFrequencyCache = new WeakMap<LlamaConfig, Float32Array>();
function inverseFrequencies(c: LlamaConfig): Float32Array {
  let inv = inverseFrequencyCache.get(c);
  if (!inv) {
    inv = ropeInverseFrequencies(c.head_dim, c.rope_theta, c.rope_scaling);
    inverseFrequencyCache.set(c, inv);
  }
  return inv;
}

/** Token embeddings [B, T, D] and what every block reads: the rotary tables and the attention mask. Reads params; consumes the input arrays. */
function embedLlama(params: ParamTree, c: LlamaConfig, input: ForwardInput): { x: JaxArray; context: JaxArray[] } {
  const embed = input.embed === "onehot" ? embeddingOneHot : embedding;
  const x = embed(param(params, "model", "embed_tokens", "weight"), input.ids);
  const { cos, sin } = ropeTables(input.positions, inverseFrequencies(c));
  return { x, context: [cos, sin, attentionMask(input.keyMask, input.querySlots)] };
}

/** One decoder layer: attention and MLP, each with a residual. Consumes x; keeps the layer's weights and the context. */
function llamaBlock(
  layer: ParamTree,
  c: LlamaConfig,
  x: JaxArray,
  context: JaxArray[],
  lora: ForwardInput["lora"],
  cache: ForwardInput["cache"],
  previous: LayerCache | undefined,
): { x: JaxArray; cache: LayerCache | null } {
  const [cos, sin, mask] = context as [JaxArray, JaxArray, JaxArray];
  const attn = layer.self_attn as ParamTree;
  const mlp = layer.mlp as ParamTree;
  const proj = (module: ParamTree, name: string, x: JaxArray) => project(module[name] as ParamTree, x, "linear", lora);
  const h = rmsNorm(x.ref, param(layer, "input_layernorm", "weight"), c.rms_norm_eps);
  const q = splitHeads(proj(attn, "q_proj", h.ref), c.num_attention_heads);
  const k = splitHeads(proj(attn, "k_proj", h.ref), c.num_key_value_heads);
  const v = splitHeads(proj(attn, "v_proj", h), c.num_key_value_heads);
  const attended = attendWithCache(applyRope(q, cos, sin), applyRope(k, cos, sin), v, mask, cache, previous);
  let out = x.add(proj(attn, "o_proj", mergeHeads(attended.out)));
  const n = rmsNorm(out.ref, param(layer, "post_attention_layernorm", "weight"), c.rms_norm_eps);
  const gate = silu(proj(mlp, "gate_proj", n.ref));
  out = out.add(proj(mlp, "down_proj", gate.mul(proj(mlp, "up_proj", n))));
  return { x: out, cache: attended.cache };
}

/** The final RMSNorm; reads params, consumes x. */
function finalLlama(params: ParamTree, c: LlamaConfig, x: JaxArray): JaxArray {
  return rmsNorm(x, param(params, "model", "norm", "weight"), c.rms_norm_eps);
}

export const llama: Architecture<LlamaConfig> = {
  modelTypes: ["llama", "mistral", "qwen2"],
  configSchema: llamaConfigSchema as unknown as z.ZodType<LlamaConfig>,
  dims: (c) => ({
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads: c.num_key_value_heads,
    headDim: c.head_dim,
    maxPositions: c.max_position_embeddings,
    tieWordEmbeddings: c.tie_word_embeddings,
  }),
  init(c, rng: Rng) {
    const std = c.initializer_range;
    const initial = ([name, shape]: [string, number[]]): [string, JaxArray] => [
      name,
      name.endsWith("norm.weight") ? np.ones(shape) : name.endsWith(".bias") ? np.zeros(shape) : normalInit(rng, shape, std),
    ];
    return unflattenNamed([...llama.expectedShapes(c)].map(initial));
  },
  expectedShapes(c) {
    const shapes = new Map<string, number[]>([["model.embed_tokens.weight", [c.vocab_size, c.hidden_size]]]);
    for (let i = 0; i < c.num_hidden_layers; i++)
      for (const [name, shape] of layerShapes(c)) shapes.set(`model.layers.${i}.${name}`, shape);
    shapes.set("model.norm.weight", [c.hidden_size]);
    if (!c.tie_word_embeddings) shapes.set("lm_head.weight", [c.vocab_size, c.hidden_size]);
    return shapes;
  },
  canonicalName(name, c) {
    if (name.endsWith("rotary_emb.inv_freq")) return null;
    if (name === "lm_head.weight" && c.tie_word_embeddings) return null;
    return name;
  },
  forward(params, c, input) {
    const { x: embedded, context } = embedLlama(params, c, input);
    let x = embedded;
    const cacheOut: LayerCache[] = [];
    const previous = input.cache?.mode === "decode" ? input.cache.layers : [];
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const layer = ((params.model as ParamTree).layers as ParamTree)[String(i)] as ParamTree;
      const out = llamaBlock(layer, c, x, context, input.lora, input.cache, previous[i]);
      x = out.x;
      if (out.cache) cacheOut.push(out.cache);
    }
    for (const a of context) a.dispose();
    if (input.cache?.mode === "decode") input.cache.slot.dispose();
    const hidden = finalLlama(params, c, x);
    disposeTree(params);
    return { hidden, cache: input.cache ? cacheOut : null };
  },
  stages: (c) => ({
    blocks: c.num_hidden_layers,
    blockPath: (i) => ["model", "layers", String(i)],
    embed: (params, input) => embedLlama(params, c, input),
    block: (layer, x, context, lora) => llamaBlock(layer, c, x, context, lora, undefined, undefined).x,
    final: (params, x) => finalLlama(params, c, x),
  }),
  lmHeadWeight: (params, c) =>
    c.tie_word_embeddings ? param(params, "model", "embed_tokens", "weight") : param(params, "lm_head", "weight"),
};
