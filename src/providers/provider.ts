/**
 * One interface over every model backend Precept can call: the in-process
 * local model, any OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI,
 * `precept serve`), and Anthropic. Pipelines (critique, revision, AI feedback)
 * are written against this interface only.
 */
import type { ChatMessage } from "../models/chat-template.js";

export type { ChatMessage };

export type SamplingParams = {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  seed?: number;
  /**
   * One seed per input, for a call that batches several callers' inputs
   * (`BatchingProvider`); overrides `seed`. Backends that sample in-process
   * honour it; row i of a call with `seed` s samples as `rowSeeds(s, n)[i]`.
   */
  seeds?: number[];
};

/**
 * The seed of each row of an n-row call seeded `seed`: the first row gets
 * `seed` itself (a one-row call samples exactly as it always did), the others
 * a hash of (seed, row), so a row's sample does not depend on how calls are batched.
 */
export function rowSeeds(seed: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    if (i === 0) return seed;
    let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(i, 0x85ebca6b)) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    return (h ^ (h >>> 13)) & 0x7fffffff;
  });
}

export type Completion = {
  text: string;
  finishReason: "stop" | "length" | "eos" | string;
  /** Log-prob of each generated token, when the backend returns them. */
  tokenLogprobs?: number[];
  usage: { promptTokens: number; completionTokens: number };
};

export interface Provider {
  /** `local:DIR`, `openai:model`, `anthropic:model`, ... */
  readonly id: string;
  generate(prompts: string[], params?: SamplingParams): Promise<Completion[]>;
  chat(conversations: ChatMessage[][], params?: SamplingParams): Promise<Completion[]>;
  /** Summed log-prob of each completion after `prompt`; throws `NotSupportedError` where the backend cannot score. */
  logprobs(prompt: string, completions: string[]): Promise<number[]>;
  /** Frees what the provider holds (a local model's weights); optional. */
  close?(): void;
}

export class NotSupportedError extends Error {
  constructor(provider: string, what: string) {
    super(`${what} is not supported by the provider ${provider}`);
    this.name = "NotSupportedError";
  }
}

export class ProviderError extends Error {
  constructor(
    message: string,
    /** HTTP status when there was a response. */
    readonly status: number | null = null,
    /** Whether trying again may succeed (429, 5xx, network, timeout). */
    readonly retryable = false,
  ) {
    super(message);
    this.name = "ProviderError";
  }
}
