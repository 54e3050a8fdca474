/**
 * One process of the engine bench: jax-js fixes its thread count at import,
 * so bench/engine.ts runs this once per thread count (PRECEPT_THREADS) and
 * reads the JSON it prints.
 *
 * - matmul GFLOP/s for square float32 matrices (2·n³ flops per product);
 * - training tokens/s of the reference small GPT (vocab 256, d=128, 4 layers,
 *   4 heads, context 64, batch 16): one jitted forward+backward, global-norm
 *   clipping and an AdamW update per step, loss read back every step.
 */

import { clipByGlobalNorm } from "../src/engine/clip.js";
import { type Array as JaxArray, jit, numpy as np, valueAndGrad } from "../src/engine/jax.js";
import { crossEntropy } from "../src/engine/nn.js";
import { adamw } from "../src/engine/optim.js";
import { readNumber } from "../src/engine/ownership.js";
import { Rng } from "../src/engine/rng.js";
import { engineThreads } from "../src/engine/threads.js";
import { countParams, type ParamTree, treeRef } from "../src/engine/tree.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../src/models/gpt2.js";
import { lmLogits, type ModelParts, unpaddedInput } from "../src/models/model.js";

/** GFLOP/s of an n×n float32 matmul: the best of 5 timing windows, since this machine is shared and noisy. */
async function matmulGflops(n: number, windowSeconds = 0.4): Promise<number> {
  const rng = new Rng(n);
  const a = np.array(rng.normalArray(n * n)).reshape([n, n]);
  const b = np.array(rng.normalArray(n * n)).reshape([n, n]);
  for (let i = 0; i < 2; i++)
    await np
      .matmul(a.ref, b.ref)
      .blockUntilReady()
      .then((c) => c.dispose());
  let best = 0;
  for (let window = 0; window < 5; window++) {
    let reps = 0;
    const start = performance.now();
    while (performance.now() - start < windowSeconds * 1000 || reps < 2) {
      (await np.matmul(a.ref, b.ref).blockUntilReady()).dispose();
      reps++;
    }
    best = Math.max(best, (2 * n ** 3 * reps) / ((performance.now() - start) / 1000) / 1e9);
  }
  a.dispose();
  b.dispose();
  return best;
}

async function smallGptTokensPerSecond(measuredSteps: number) {
  const config = gpt2ConfigSchema.parse({ vocab_size: 256, n_positions: 64, n_embd: 128, n_layer: 4, n_head: 4 });
  const rng = new Rng(0);
  let params = initGpt2(config, rng);
  const batch = 16;
  const context = 64;
  const model: ModelParts = { arch: gpt2 as never, config };
  const step = jit(
    valueAndGrad((p: ParamTree, ids: JaxArray, targets: JaxArray) =>
      crossEntropy(lmLogits(model, p, unpaddedInput(ids, "onehot")).logits, targets),
    ),
  );
  const optimizer = adamw();
  let state = optimizer.init(params);
  const warmup = 3;
  let measuredMs = 0;
  let lastLoss = 0;
  for (let i = 0; i < warmup + measuredSteps; i++) {
    const ids = new Int32Array(batch * context);
    const targets = new Int32Array(batch * context);
    for (let j = 0; j < ids.length; j++) {
      ids[j] = rng.int(256);
      targets[j] = ((ids[j] as number) * 7 + 3) % 256;
    }
    const started = performance.now();
    const [loss, grads] = step(treeRef(params), np.array(ids).reshape([batch, context]), np.array(targets).reshape([batch, context])) as [
      JaxArray,
      ParamTree,
    ];
    const clipped = clipByGlobalNorm(grads, 1.0);
    clipped.norm.dispose();
    ({ params, state } = optimizer.update(params, clipped.grads, state, 1e-3));
    lastLoss = await readNumber(loss);
    if (i >= warmup) measuredMs += performance.now() - started;
  }
  return {
    params: countParams(params),
    config: { vocab: 256, d: 128, layers: 4, heads: 4, context, batch },
    steps: measuredSteps,
    msPerStep: measuredMs / measuredSteps,
    tokensPerSecond: (batch * context * measuredSteps) / (measuredMs / 1000),
    finalLoss: lastLoss,
  };
}

const matmul: Record<string, number> = {};
for (const n of [256, 512, 1024]) matmul[n] = await matmulGflops(n);
const train = await smallGptTokensPerSecond(Number(process.env.BENCH_TRAIN_STEPS ?? 10));
console.log(JSON.stringify({ threads: engineThreads, matmulGflops: matmul, train }));
