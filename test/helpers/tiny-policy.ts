/**
 * The trainer tests' models, untrained and without a tokenizer (so no EOS), small enough to train in a test:
 * a one-layer GPT-2 over 16 token ids, and a three-layer Qwen2-style Llama (grouped-query attention, tied embeddings).
 */
import { Rng } from "../../src/engine/rng.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../../src/models/gpt2.js";
import { llama, llamaConfigSchema } from "../../src/models/llama.js";
import { CausalLM } from "../../src/models/model.js";

/** The GPT-2, initialised from `seed`. */
export function tinyModel(seed: number): CausalLM {
  const config = gpt2ConfigSchema.parse({ vocab_size: 16, n_positions: 32, n_embd: 32, n_layer: 1, n_head: 2 });
  return new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(seed)));
}

/** The GPT-2 as a policy, with a copy of it as the frozen reference. */
export function tinyPolicy(seed = 0): { policy: CausalLM; ref: CausalLM } {
  const policy = tinyModel(seed);
  return { policy, ref: policy.clone() };
}

/** The Llama over `vocabSize` token ids (seed 3): 3 layers, 4 query and 2 key/value heads of width 4. */
export function tinyLlama(vocabSize: number): CausalLM {
  const config = llamaConfigSchema.parse({
    model_type: "qwen2",
    vocab_size: vocabSize,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
    initializer_range: 0.3,
  });
  return new CausalLM(llama as never, config, llama.init(config, new Rng(3)));
}
