/**
 * The real model shapes of the scale bench (random weights, Hugging Face
 * config.json fields), and a model of each built from them.
 */
import { Rng } from "../src/engine/rng.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../src/models/gpt2.js";
import { llama, llamaConfigSchema } from "../src/models/llama.js";
import { CausalLM } from "../src/models/model.js";

export const SHAPES = {
  "smollm2-135m": {
    model_type: "llama",
    vocab_size: 49152,
    hidden_size: 576,
    intermediate_size: 1536,
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    tie_word_embeddings: true,
  },
  "smollm2-360m": {
    model_type: "llama",
    vocab_size: 49152,
    hidden_size: 960,
    intermediate_size: 2560,
    num_hidden_layers: 32,
    num_attention_heads: 15,
    num_key_value_heads: 5,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    tie_word_embeddings: true,
  },
  "qwen2.5-0.5b": {
    model_type: "qwen2",
    vocab_size: 151936,
    hidden_size: 896,
    intermediate_size: 4864,
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    max_position_embeddings: 32768,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    tie_word_embeddings: true,
  },
  "gpt2-124m": { model_type: "gpt2", vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 },
} as const;

export type ShapeName = keyof typeof SHAPES;

/** A randomly initialised model of a named shape, optionally with fewer layers or another vocabulary (for probing). */
export function shapeModel(name: ShapeName, overrides: { layers?: number; vocab?: number } = {}, seed = 0): CausalLM {
  const raw: Record<string, unknown> = { ...SHAPES[name] };
  if (overrides.vocab) raw.vocab_size = overrides.vocab;
  if (raw.model_type === "gpt2") {
    if (overrides.layers) raw.n_layer = overrides.layers;
    const config = gpt2ConfigSchema.parse(raw);
    return new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(seed)));
  }
  if (overrides.layers) raw.num_hidden_layers = overrides.layers;
  const config = llamaConfigSchema.parse(raw);
  return new CausalLM(llama as never, config, llama.init(config, new Rng(seed)));
}
