/** The two reference models of the models bench, as Hugging Face configs (shared by the Precept and PyTorch sides). */
export const BENCH_MODELS = {
  "small-gpt2": { config: { model_type: "gpt2", vocab_size: 256, n_positions: 128, n_embd: 128, n_layer: 4, n_head: 4 } },
  "llama-6x384": {
    config: {
      model_type: "llama",
      vocab_size: 512,
      hidden_size: 384,
      intermediate_size: 1024,
      num_hidden_layers: 6,
      num_attention_heads: 6,
      num_key_value_heads: 2,
      max_position_embeddings: 256,
    },
  },
} as const;
