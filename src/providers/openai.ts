/**
 * A provider for any OpenAI-compatible server: OpenAI itself, vLLM, Ollama,
 * llama.cpp, or `precept serve`. Base URL and key come from the options or
 * from `OPENAI_BASE_URL` / `OPENAI_API_KEY`; retries, timeouts, the cache and
 * concurrency are `HttpClient`'s.
 */
import { countTokens, HttpClient, type HttpOptions, type Pricing, parseJson, type Usage } from "./http.js";
import { type ChatMessage, type Completion, NotSupportedError, type Provider, ProviderError, type SamplingParams } from "./provider.js";

export { MemoryCache, retryAfterMs } from "./http.js";

export type OpenAiOptions = Omit<HttpOptions, "baseUrl" | "headers"> & {
  model: string;
  baseUrl?: string;
  apiKey?: string;
  /** Use streaming (server-sent events) for completions. */
  stream?: boolean;
  /** Prices for `usage.costUsd`. */
  pricing?: Pricing;
};

export class OpenAiProvider implements Provider {
  readonly id: string;
  readonly #http: HttpClient;
  readonly #model: string;
  readonly #stream: boolean;
  readonly #pricing: Pricing | undefined;

  constructor(options: OpenAiOptions) {
    this.id = `openai:${options.model}`;
    this.#model = options.model;
    this.#stream = options.stream ?? false;
    this.#pricing = options.pricing;
    const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
    this.#http = new HttpClient({
      ...options,
      baseUrl: options.baseUrl ?? process.env.OPENAI_BASE_URL ?? "https://api.openai.com/v1",
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
    });
  }

  get usage(): Usage {
    return this.#http.usage;
  }

  /** POSTs to the server (cached, retried) and counts the tokens it reports. */
  async request(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const before = this.#http.usage.cacheHits;
    const reply = await this.#http.post(path, body, assembleStream);
    if (this.#http.usage.cacheHits === before) {
      const usage = reply.usage as { prompt_tokens?: number; completion_tokens?: number } | undefined;
      countTokens(this.#http.usage, usage?.prompt_tokens ?? 0, usage?.completion_tokens ?? 0, this.#pricing);
    }
    return reply;
  }

  async generate(prompts: string[], params: SamplingParams = {}): Promise<Completion[]> {
    return Promise.all(
      prompts.map(async (prompt) => {
        const reply = await this.request("/completions", {
          model: this.#model,
          prompt,
          ...samplingBody(params),
          ...(this.#stream ? { stream: true } : {}),
        });
        return toCompletion(reply, "text", this.id);
      }),
    );
  }

  async chat(conversations: ChatMessage[][], params: SamplingParams = {}): Promise<Completion[]> {
    return Promise.all(
      conversations.map(async (messages) => {
        const reply = await this.request("/chat/completions", {
          model: this.#model,
          messages,
          ...samplingBody(params),
          ...(this.#stream ? { stream: true } : {}),
        });
        return toCompletion(reply, "message", this.id);
      }),
    );
  }

  /** Needs a server that echoes prompt log-probs (vLLM, `precept serve`); OpenAI's API no longer does. */
  async logprobs(prompt: string, completions: string[]): Promise<number[]> {
    return Promise.all(
      completions.map(async (completion) => {
        let reply: Record<string, unknown>;
        try {
          reply = await this.request("/completions", {
            model: this.#model,
            prompt: prompt + completion,
            echo: true,
            logprobs: 0,
            max_tokens: 1,
            temperature: 0,
          });
        } catch (error) {
          if (error instanceof ProviderError && error.status !== null && error.status >= 400 && error.status < 500)
            throw new NotSupportedError(this.id, "scoring log-probs (echo)");
          throw error;
        }
        const logprobs = ((reply.choices as Record<string, unknown>[])?.[0]?.logprobs ?? null) as {
          token_logprobs?: (number | null)[];
          text_offset?: number[];
        } | null;
        if (!logprobs?.token_logprobs || !logprobs.text_offset) throw new NotSupportedError(this.id, "scoring log-probs (echo)");
        let sum = 0;
        const end = prompt.length + completion.length;
        logprobs.text_offset.forEach((offset, i) => {
          if (offset >= prompt.length && offset < end) sum += logprobs.token_logprobs?.[i] ?? 0;
        });
        return sum;
      }),
    );
  }
}

function samplingBody(params: SamplingParams): Record<string, unknown> {
  return {
    ...(params.maxTokens !== undefined ? { max_tokens: params.maxTokens } : {}),
    ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
    ...(params.topP !== undefined ? { top_p: params.topP } : {}),
    ...(params.stop ? { stop: params.stop } : {}),
    ...(params.seed !== undefined ? { seed: params.seed } : {}),
  };
}

/** Joins the chunks of a streamed completion or chat completion into one reply. */
function assembleStream(events: string[], url: string): Record<string, unknown> {
  let content = "";
  let finishReason: string | null = null;
  let chat = false;
  for (const data of events) {
    const chunk = parseJson(data, url);
    const choice = (chunk.choices as Record<string, unknown>[] | undefined)?.[0];
    if (!choice) continue;
    const delta = choice.delta as { content?: string } | undefined;
    if (delta) chat = true;
    content += delta?.content ?? (choice.text as string | undefined) ?? "";
    finishReason = (choice.finish_reason as string | null) ?? finishReason;
  }
  const choice = chat
    ? { index: 0, message: { role: "assistant", content }, finish_reason: finishReason }
    : { index: 0, text: content, finish_reason: finishReason };
  return { choices: [choice] };
}

function toCompletion(reply: Record<string, unknown>, field: "text" | "message", provider: string): Completion {
  const choice = (reply.choices as Record<string, unknown>[] | undefined)?.[0];
  const text = field === "text" ? (choice?.text as string | undefined) : (choice?.message as { content?: string } | undefined)?.content;
  if (!choice || typeof text !== "string")
    throw new ProviderError(`${provider}: the reply has no choices[0].${field === "text" ? "text" : "message.content"}`, null, false);
  const usage = reply.usage as { prompt_tokens?: number; completion_tokens?: number } | undefined;
  return {
    text,
    finishReason: String(choice.finish_reason ?? "stop"),
    usage: { promptTokens: usage?.prompt_tokens ?? 0, completionTokens: usage?.completion_tokens ?? 0 },
  };
}
