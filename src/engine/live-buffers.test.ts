import { describe, expect, it } from "vitest";
import { grad, type Array as JaxArray, jit, nn, numpy as np, valueAndGrad } from "./jax.js";
import { liveBuffers } from "./live-buffers.js";
import { crossEntropy, embeddingOneHot, layerNorm } from "./nn.js";
import { readNumber } from "./ownership.js";

async function leakedBy(body: () => Promise<void>): Promise<number> {
  await body(); // warm caches (jit, constants)
  const before = liveBuffers();
  for (let i = 0; i < 3; i++) await body();
  return liveBuffers() - before;
}

describe("live buffer counting", () => {
  it("counts allocations and frees", async () => {
    const before = liveBuffers();
    const a = np.array(Float32Array.from({ length: 100 }, (_, i) => i));
    expect(liveBuffers()).toBe(before + 1);
    a.dispose();
    expect(liveBuffers()).toBe(before);
  });

  it("differentiating a division leaks nothing (jax-js reciprocal JVP, patched by scripts/patch-jax.mjs)", async () => {
    const x = np.array(Float32Array.from({ length: 16 }, (_, i) => i + 1)).reshape([4, 4]);
    const leaked = await leakedBy(async () => {
      const g = grad((v: JaxArray) =>
        v.ref
          .div(v.sum(-1, { keepdims: true }))
          .mul(np.arange(4))
          .sum(),
      )(x.ref);
      await g.data();
    });
    expect(leaked).toBe(0);
    const alsoSoftmaxAndNorm = await leakedBy(async () => {
      const g = grad((v: JaxArray) =>
        nn
          .softmax(layerNorm(v, np.ones([4]), np.zeros([4])), -1)
          .mul(np.arange(4))
          .sum(),
      )(x.ref);
      await g.data();
    });
    expect(alsoSoftmaxAndNorm).toBe(0);
    x.dispose();
  });

  it("a whole language-model training step compiles under jit and leaks nothing", async () => {
    const step = jit(
      valueAndGrad((w: JaxArray, ids: JaxArray, targets: JaxArray) => {
        const h = embeddingOneHot(w.ref, ids);
        return crossEntropy(np.matmul(h, np.transpose(w)), targets);
      }),
    );
    let w = np.array(Float32Array.from({ length: 8 * 4 }, (_, i) => Math.sin(i))).reshape([8, 4]);
    const losses: number[] = [];
    const leaked = await leakedBy(async () => {
      const [loss, g] = step(w.ref, np.array([[1, 2, 3]], { dtype: np.int32 }), np.array([[2, 3, -100]], { dtype: np.int32 })) as [
        JaxArray,
        JaxArray,
      ];
      w = w.sub(g.mul(0.5));
      losses.push(await readNumber(loss));
      await w.ref.data();
    });
    expect(leaked).toBe(0);
    expect(losses[3]).toBeLessThan(losses[0] as number);
    w.dispose();
    step.dispose();
  });
});
