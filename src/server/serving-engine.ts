/**
 * What `precept serve` runs requests on: the in-process wasm model (the default) or llama.cpp
 * (`--backend llama`, the llama: provider). Both take and return token ids, so the OpenAI API's
 * tokenizing, chat template, stop strings and log-prob formatting stay in one place (openai.ts).
 */
import { type GenerateOptions, type Generation, generateTokens } from "../models/generate.js";
import type { CausalLM } from "../models/model.js";
import { scoreCompletions } from "../models/score.js";
import type { Tokenizer } from "../models/tokenizer.js";
import type { LlamaCppProvider } from "../providers/llama.js";

export type ServingEngine = {
  /** "wasm" or "llama.cpp", for the start-up line. */
  readonly kind: string;
  readonly tokenizer: Tokenizer | null;
  /** Tokens a prompt and its completion can hold together. */
  readonly maxPositions: number;
  generate(ids: number[][], options: GenerateOptions): Promise<Generation[]>;
  /** log p of each token of each row given the ones before it, from the second token on. */
  scorePrompts(ids: number[][]): Promise<number[][]>;
  dispose(): Promise<void>;
};

export function wasmEngine(model: CausalLM): ServingEngine {
  return {
    kind: "wasm",
    tokenizer: model.tokenizer,
    maxPositions: model.dims.maxPositions,
    generate: (ids, options) => generateTokens(model, ids, options),
    scorePrompts: async (ids) =>
      (
        await scoreCompletions(
          model,
          ids.map((p) => p.slice(0, 1)),
          ids.map((p) => p.slice(1)),
        )
      ).map((lp) => Array.from(lp)),
    dispose: async () => model.dispose(),
  };
}

export function llamaEngine(provider: LlamaCppProvider): ServingEngine {
  return {
    kind: "llama.cpp",
    tokenizer: provider.tokenizer,
    maxPositions: provider.maxPositions,
    generate: async (ids, options) => {
      const { onToken, signal, seeds, ...rest } = options;
      if (signal?.aborted) throw new DOMException("generation aborted", "AbortError");
      if (seeds) throw new Error("per-row seeds are not supported by the llama.cpp backend");
      return provider.generateTokens(ids, { ...rest, ...(onToken ? { onToken } : {}), ...(signal ? { signal } : {}) });
    },
    scorePrompts: async (ids) => (await provider.scoreTokens(ids, { from: ids.map(() => 1) })).map((s) => s.logprobs),
    dispose: () => provider.dispose(),
  };
}
