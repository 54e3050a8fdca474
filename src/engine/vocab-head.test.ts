import { describe, expect, it } from "vitest";
import { gradCheck, projection, randomInputs } from "../../test/helpers/grad-check.js";
import { grad, type Array as JaxArray, jit, nn, numpy as np } from "./jax.js";
import { tokenLogProbs } from "./nn.js";
import { Rng } from "./rng.js";
import { headLogProbs, tokensPerChunk } from "./vocab-head.js";

// Enough tokens that chunks of 20 and all of them are padded to the row alignment (16).
const N = 37;
const D = 6;
const V = 23;

function data(seed: number) {
  const rng = new Rng(seed);
  return {
    hidden: Float32Array.from({ length: N * D }, () => rng.normal()),
    weight: Float32Array.from({ length: V * D }, () => rng.normal()),
    targets: Int32Array.from({ length: N }, () => rng.int(V)),
    g: Float32Array.from({ length: N }, () => rng.normal()),
  };
}

const arrays = (d: ReturnType<typeof data>) => ({
  hidden: np.array(d.hidden).reshape([N, D]),
  weight: np.array(d.weight).reshape([V, D]),
  targets: np.array(d.targets, { dtype: np.int32 }),
});

/** The unchunked reference: full logits, log-softmax, one-hot selection. */
function reference(hidden: JaxArray, weight: JaxArray, targets: JaxArray, temperature: number) {
  return tokenLogProbs(np.matmul(hidden, np.transpose(weight)).mul(1 / temperature), targets);
}

async function close(a: JaxArray, b: JaxArray, tol = 1e-5) {
  const x = (await a.data()) as Float32Array;
  const y = (await b.data()) as Float32Array;
  expect(x.length).toBe(y.length);
  for (const [i, v] of x.entries()) {
    expect(Math.abs(v - (y[i] as number)), `entry ${i}: ${v} vs ${y[i]}`).toBeLessThan(tol * (1 + Math.abs(y[i] as number)));
  }
}

describe("vocabulary head in token chunks", () => {
  it("log-probs and entropies equal the unchunked ones (chunks of 1, 4, 20 and all tokens, temperature 1 and 0.7)", async () => {
    const d = data(1);
    for (const temperature of [1, 0.7]) {
      for (const chunk of [1, 4, 20, N]) {
        const a = arrays(d);
        const { logprobs, entropy } = headLogProbs(a.hidden, a.weight, a.targets, { chunk, temperature, entropy: true });
        const b = arrays(d);
        await close(logprobs, reference(b.hidden.ref, b.weight.ref, b.targets, temperature));
        const logp = nn.logSoftmax(np.matmul(b.hidden, np.transpose(b.weight)).mul(1 / temperature), -1);
        // Entropy is a metric: logsumexp − Σ p·z against −Σ p·log p differs by float32 rounding.
        await close(entropy as JaxArray, np.exp(logp.ref).mul(logp).sum(-1).neg(), 1e-4);
      }
    }
  });

  it("its hand-written gradients equal autodiff of the unchunked log-softmax, for hidden and weight, also under jit", async () => {
    const d = data(2);
    const weights = np.array(d.g);
    for (const [gradients, chunk] of [
      ["hidden", 4],
      ["weight", 4],
      ["weight", 20], // padded chunks: the zero rows must add nothing to W's gradient
    ] as const) {
      const ours = jit(
        grad((p: { hidden: JaxArray; weight: JaxArray }, t: JaxArray, w: JaxArray) =>
          headLogProbs(p.hidden, p.weight, t, { chunk, temperature: 0.8, gradients }).logprobs.mul(w).sum(),
        ),
      );
      const theirs = grad((p: { hidden: JaxArray; weight: JaxArray }, t: JaxArray, w: JaxArray) =>
        reference(p.hidden, p.weight, t, 0.8).mul(w).sum(),
      );
      const a = arrays(d);
      const b = arrays(d);
      const mine = ours({ hidden: a.hidden, weight: a.weight }, a.targets, weights.ref) as { hidden: JaxArray; weight: JaxArray };
      const ref = theirs({ hidden: b.hidden, weight: b.weight }, b.targets, weights.ref) as { hidden: JaxArray; weight: JaxArray };
      await close(mine.hidden, ref.hidden);
      // "hidden" is for a frozen head: what it gives W is not its gradient.
      if (gradients === "weight") await close(mine.weight, ref.weight);
      else {
        mine.weight.dispose();
        ref.weight.dispose();
      }
      ours.dispose();
    }
    weights.dispose();
  });

  it("passes a finite-difference gradient check in float64", async () => {
    const inputs = randomInputs(3, { hidden: [5, 4], weight: [9, 4] });
    const targets = [1, 8, 0, 3, 3];
    const r = projection(4, [5]);
    const { mismatches, checked, gradientNorm } = await gradCheck(
      (x) =>
        headLogProbs(x.hidden as JaxArray, x.weight as JaxArray, np.array(Int32Array.from(targets), { dtype: np.int32 }), {
          chunk: 2,
          temperature: 0.9,
          gradients: "weight",
        })
          .logprobs.mul(r.ref)
          .sum(),
      inputs,
    );
    r.dispose();
    expect(checked).toBe(20 + 36);
    expect(gradientNorm).toBeGreaterThan(0.1);
    expect(mismatches).toEqual([]);
  });

  it("sizes chunks to the vocabulary: ~64 MiB of logits per chunk, at least one token", () => {
    // 110 and 341 fit; chunks are cut to a multiple of 16 rows (jax-js's fast matmul kernels need it).
    expect(tokensPerChunk(151_936, 1024)).toBe(96);
    expect(tokensPerChunk(49_152, 1024)).toBe(336);
    expect(tokensPerChunk(256, 100)).toBe(100);
    expect(tokensPerChunk(2 ** 30, 10)).toBe(1);
  });
});
