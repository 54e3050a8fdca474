/** The trainer tests' model: an untrained one-layer GPT-2 over 16 token ids, no tokenizer (so no EOS); fast enough to train in a test. */
import { Rng } from "../../src/engine/rng.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../../src/models/gpt2.js";
import { CausalLM } from "../../src/models/model.js";

/** The model, initialised from `seed`. */
export function tinyModel(seed: number): CausalLM {
  const config = gpt2ConfigSchema.parse({ vocab_size: 16, n_positions: 32, n_embd: 32, n_layer: 1, n_head: 2 });
  return new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(seed)));
}

/** The model as a policy, with a copy of it as the frozen reference. */
export function tinyPolicy(seed = 0): { policy: CausalLM; ref: CausalLM } {
  const policy = tinyModel(seed);
  return { policy, ref: policy.clone() };
}
