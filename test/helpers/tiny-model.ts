/** An untrained one-layer byte-level GPT-2 saved as a model directory: enough for pipeline tests, which check plumbing, not quality. */
import { Rng } from "../../src/engine/rng.js";
import { ByteTokenizer } from "../../src/models/byte-tokenizer.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../../src/models/gpt2.js";
import { saveModel } from "../../src/models/io.js";
import { CausalLM } from "../../src/models/model.js";

export async function saveTinyModel(dir: string, options: { positions: number; seed: number }): Promise<void> {
  const tokenizer = new ByteTokenizer();
  const config = gpt2ConfigSchema.parse({
    vocab_size: tokenizer.vocabSize,
    n_positions: options.positions,
    n_embd: 32,
    n_layer: 1,
    n_head: 2,
    initializer_range: 0.3,
  });
  const model = new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(options.seed)), tokenizer);
  await saveModel(model, dir);
  model.dispose();
}
