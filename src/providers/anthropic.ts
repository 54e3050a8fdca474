/**
 * Anthropic's Messages API as a provider (`anthropic:claude-...`), key from
 * `ANTHROPIC_API_KEY`. A system message becomes the `system` field; prompts
 * for `generate` become one user turn. The API returns no token log-probs, so
 * `logprobs` is not supported (AI feedback then uses a provider that has them,
 * or the chain-of-thought mode).
 */
import { countTokens, HttpClient, type HttpOptions, type Pricing, type Usage } from "./http.js";
import { type ChatMessage, type Completion, NotSupportedError, type Provider, ProviderError, type SamplingParams } from "./provider.js";

export type AnthropicOptions = Omit<HttpOptions, "baseUrl" | "headers"> & {
  model: string;
  baseUrl?: string;
  apiKey?: string;
  pricing?: Pricing;
};

export class AnthropicProvider implements Provider {
  readonly id: string;
  readonly #http: HttpClient;
  readonly #model: string;
  readonly #pricing: Pricing | undefined;

  constructor(options: AnthropicOptions) {
    this.id = `anthropic:${options.model}`;
    this.#model = options.model;
    this.#pricing = options.pricing;
    const apiKey = options.apiKey ?? process.env.ANTHROPIC_API_KEY;
    this.#http = new HttpClient({
      ...options,
      baseUrl: options.baseUrl ?? process.env.ANTHROPIC_BASE_URL ?? "https://api.anthropic.com/v1",
      headers: { "anthropic-version": "2023-06-01", ...(apiKey ? { "x-api-key": apiKey } : {}) },
    });
  }

  get usage(): Usage {
    return this.#http.usage;
  }

  async chat(conversations: ChatMessage[][], params: SamplingParams = {}): Promise<Completion[]> {
    return Promise.all(
      conversations.map(async (messages) => {
        const system = messages
          .filter((m) => m.role === "system")
          .map((m) => m.content)
          .join("\n\n");
        const turns = messages
          .filter((m) => m.role !== "system")
          .map((m) => ({ role: m.role === "assistant" ? "assistant" : "user", content: m.content }));
        const before = this.#http.usage.cacheHits;
        const reply = await this.#http.post("/messages", {
          model: this.#model,
          max_tokens: params.maxTokens ?? 1024,
          messages: turns,
          ...(system ? { system } : {}),
          ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
          ...(params.topP !== undefined ? { top_p: params.topP } : {}),
          ...(params.stop ? { stop_sequences: params.stop } : {}),
        });
        const blocks = reply.content as { type: string; text?: string }[] | undefined;
        if (!Array.isArray(blocks)) throw new ProviderError(`${this.id}: the reply has no content blocks`, null, false);
        const usage = reply.usage as { input_tokens?: number; output_tokens?: number } | undefined;
        if (this.#http.usage.cacheHits === before)
          countTokens(this.#http.usage, usage?.input_tokens ?? 0, usage?.output_tokens ?? 0, this.#pricing);
        return {
          text: blocks
            .filter((b) => b.type === "text")
            .map((b) => b.text ?? "")
            .join(""),
          finishReason: reply.stop_reason === "max_tokens" ? "length" : "stop",
          usage: { promptTokens: usage?.input_tokens ?? 0, completionTokens: usage?.output_tokens ?? 0 },
        };
      }),
    );
  }

  async generate(prompts: string[], params: SamplingParams = {}): Promise<Completion[]> {
    return this.chat(
      prompts.map((p) => [{ role: "user", content: p }]),
      params,
    );
  }

  async logprobs(): Promise<number[]> {
    throw new NotSupportedError(this.id, "scoring log-probs");
  }
}
