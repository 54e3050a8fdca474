import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jit } from "../engine/jax.js";
import { type ParamTree, treeRef } from "../engine/tree.js";
import type { ForwardInput } from "./attention.js";
import { generateTokens } from "./generate.js";
import { loadModel } from "./io.js";
import { fullInput } from "./model.js";
import { nextTokenLogProbs } from "./score.js";

const FIXTURES = join(import.meta.dirname, "../../test/fixtures/models");

describe("next-token log-probs in vocabulary-head chunks", () => {
  it("equal the KV-cache generation's log-probs (1e-4) with chunks of 2 tokens, and chunking changes nothing (1e-5)", async () => {
    const model = await loadModel(join(FIXTURES, "llama-tiny"));
    const prompts = [
      [5, 9, 14, 3, 22, 7],
      [17, 3, 8, 8, 1, 2],
    ];
    const generations = await generateTokens(model, prompts, { maxNewTokens: 7, temperature: 0, eosTokenIds: [] });
    const rows = prompts.map((p, b) => [...p, ...(generations[b]?.tokens ?? [])]);
    const score = (chunk?: number) =>
      jit((params: ParamTree, input: Omit<ForwardInput, "embed" | "lora" | "cache">) =>
        nextTokenLogProbs(model, params, input, chunk ? { chunk } : {}),
      );
    const chunked = score(2);
    const whole = score();
    const a = (await chunked(treeRef(model.params), fullInput(rows, model.padId) as never).data()) as Float32Array;
    const b = (await whole(treeRef(model.params), fullInput(rows, model.padId) as never).data()) as Float32Array;
    const width = rows[0]?.length as number;
    for (const [i, v] of a.entries()) expect(Math.abs(v - (b[i] as number))).toBeLessThan(1e-5);
    generations.forEach((g, row) => {
      expect(g.tokens).toHaveLength(7);
      for (const [i, lp] of g.logprobs.entries()) {
        // Column t − 1 predicts token t; the first generated token is at t = prompt length.
        const column = row * (width - 1) + (prompts[row]?.length as number) - 1 + i;
        expect(Math.abs(lp - (a[column] as number)), `row ${row} token ${i}`).toBeLessThan(1e-4);
      }
    });
    chunked.dispose();
    whole.dispose();
    model.dispose();
  });
});
