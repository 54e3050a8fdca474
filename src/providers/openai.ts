/**
 * A provider for any OpenAI-compatible server: OpenAI itself, vLLM, Ollama,
 * llama.cpp, or `precept serve`. Base URL and key come from the options or
 * from `OPENAI_BASE_URL` / `OPENAI_API_KEY`.
 *
 * - at most `concurrency` requests in flight;
 * - a timeout per attempt; retries with exponential backoff and full jitter
 *   on 429, 5xx, network errors, timeouts, malformed JSON and truncated
 *   streams, honouring `Retry-After`; other 4xx fail at once with the
 *   server's message;
 * - a cache keyed by the full request (URL + body), filled only by complete,
 *   valid replies, so a rerun costs nothing and a failure is never cached;
 * - token accounting (`usage`) across all calls.
 */
import { createHash } from "node:crypto";
import { type ChatMessage, type Completion, NotSupportedError, type Provider, ProviderError, type SamplingParams } from "./provider.js";

export type OpenAiOptions = {
  model: string;
  baseUrl?: string;
  apiKey?: string;
  /** Milliseconds per attempt (default 60 s). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 5). */
  maxRetries?: number;
  /** First backoff in ms (doubles each retry, with full jitter; default 500). */
  backoffMs?: number;
  /** Longest wait between attempts, also for Retry-After (default 60 s). */
  maxBackoffMs?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Use streaming (server-sent events) for completions. */
  stream?: boolean;
  /** A cache shared across providers and runs (default: one in memory). */
  cache?: ResponseCache;
};

export interface ResponseCache {
  get(key: string): unknown | undefined | Promise<unknown | undefined>;
  set(key: string, value: unknown): void | Promise<void>;
}

export class MemoryCache implements ResponseCache {
  readonly #map = new Map<string, unknown>();
  get(key: string) {
    return this.#map.get(key);
  }
  set(key: string, value: unknown) {
    this.#map.set(key, value);
  }
  get size(): number {
    return this.#map.size;
  }
}

export type Usage = { requests: number; attempts: number; cacheHits: number; promptTokens: number; completionTokens: number };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry-After as seconds or an HTTP date → milliseconds, or null. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export class OpenAiProvider implements Provider {
  readonly id: string;
  readonly usage: Usage = { requests: 0, attempts: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0 };
  readonly #options: Required<Omit<OpenAiOptions, "apiKey" | "cache">> & { apiKey: string | null; cache: ResponseCache };
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: OpenAiOptions) {
    this.id = `openai:${options.model}`;
    this.#options = {
      model: options.model,
      baseUrl: (options.baseUrl ?? process.env.OPENAI_BASE_URL ?? "https://api.openai.com/v1").replace(/\/+$/, ""),
      apiKey: options.apiKey ?? process.env.OPENAI_API_KEY ?? null,
      timeoutMs: options.timeoutMs ?? 60_000,
      maxRetries: options.maxRetries ?? 5,
      backoffMs: options.backoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 60_000,
      concurrency: options.concurrency ?? 4,
      stream: options.stream ?? false,
      cache: options.cache ?? new MemoryCache(),
    };
  }

  async #slot<T>(job: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#options.concurrency) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active++;
    try {
      return await job();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }

  /** POSTs `body` to `path` with retries; returns the parsed reply (assembled from the stream when streaming). */
  async request(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const url = `${this.#options.baseUrl}${path}`;
    const key = createHash("sha256")
      .update(`${url}\n${JSON.stringify(body)}`)
      .digest("hex");
    this.usage.requests++;
    const cached = await this.#options.cache.get(key);
    if (cached !== undefined) {
      this.usage.cacheHits++;
      return cached as Record<string, unknown>;
    }
    const reply = await this.#slot(() => this.#withRetries(url, body));
    await this.#options.cache.set(key, reply);
    const usage = reply.usage as { prompt_tokens?: number; completion_tokens?: number } | undefined;
    this.usage.promptTokens += usage?.prompt_tokens ?? 0;
    this.usage.completionTokens += usage?.completion_tokens ?? 0;
    return reply;
  }

  async #withRetries(url: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    let lastError: ProviderError | null = null;
    for (let attempt = 0; attempt <= this.#options.maxRetries; attempt++) {
      if (attempt > 0) {
        const exponential = Math.min(this.#options.maxBackoffMs, this.#options.backoffMs * 2 ** (attempt - 1));
        const wait = lastError instanceof RetryAfter ? Math.min(this.#options.maxBackoffMs, lastError.waitMs) : Math.random() * exponential;
        await sleep(wait);
      }
      this.usage.attempts++;
      try {
        return await this.#attempt(url, body);
      } catch (error) {
        lastError = error instanceof ProviderError ? error : new ProviderError(`${url}: ${(error as Error).message}`, null, true);
        if (!lastError.retryable) throw lastError;
      }
    }
    throw new ProviderError(
      `${url}: gave up after ${this.#options.maxRetries + 1} attempts: ${lastError?.message}`,
      lastError?.status ?? null,
      false,
    );
  }

  async #attempt(url: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#options.timeoutMs);
    try {
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(this.#options.apiKey ? { authorization: `Bearer ${this.#options.apiKey}` } : {}),
          },
          body: JSON.stringify(body),
          signal: controller.signal,
        });
      } catch (error) {
        const timedOut = controller.signal.aborted;
        throw new ProviderError(
          timedOut ? `${url}: no reply within ${this.#options.timeoutMs} ms` : `${url}: ${(error as Error).message}`,
          null,
          true,
        );
      }
      if (!response.ok) {
        const text = await response.text().catch(() => "");
        let message = text.slice(0, 300);
        try {
          message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
        } catch {}
        const retryable = response.status === 429 || response.status >= 500;
        const wait = retryAfterMs(response.headers.get("retry-after"));
        if (retryable && wait !== null) throw new RetryAfter(`${url}: HTTP ${response.status}: ${message}`, response.status, wait);
        throw new ProviderError(`${url}: HTTP ${response.status}: ${message}`, response.status, retryable);
      }
      const text = await readBody(response, url, controller.signal, this.#options.timeoutMs);
      return body.stream ? assembleStream(text, url) : parseJson(text, url);
    } finally {
      clearTimeout(timer);
    }
  }

  async generate(prompts: string[], params: SamplingParams = {}): Promise<Completion[]> {
    return Promise.all(
      prompts.map(async (prompt) => {
        const reply = await this.request("/completions", {
          model: this.#options.model,
          prompt,
          ...samplingBody(params),
          ...(this.#options.stream ? { stream: true } : {}),
        });
        return toCompletion(reply, "text", this.id);
      }),
    );
  }

  async chat(conversations: ChatMessage[][], params: SamplingParams = {}): Promise<Completion[]> {
    return Promise.all(
      conversations.map(async (messages) => {
        const reply = await this.request("/chat/completions", {
          model: this.#options.model,
          messages,
          ...samplingBody(params),
          ...(this.#options.stream ? { stream: true } : {}),
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
            model: this.#options.model,
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

class RetryAfter extends ProviderError {
  constructor(
    message: string,
    status: number,
    readonly waitMs: number,
  ) {
    super(message, status, true);
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

async function readBody(response: Response, url: string, signal: AbortSignal, timeoutMs: number): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    throw new ProviderError(
      signal.aborted
        ? `${url}: the reply did not finish within ${timeoutMs} ms`
        : `${url}: the reply broke off: ${(error as Error).message}`,
      null,
      true,
    );
  }
}

function parseJson(text: string, url: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text);
    if (typeof value !== "object" || value === null) throw new Error("not an object");
    return value as Record<string, unknown>;
  } catch (error) {
    throw new ProviderError(`${url}: malformed JSON in the reply (${(error as Error).message}): ${text.slice(0, 120)}`, null, true);
  }
}

/** Joins server-sent-event chunks into one reply; a stream without `[DONE]` is truncated (retryable). */
function assembleStream(text: string, url: string): Record<string, unknown> {
  const events = text
    .split(/\n\n/)
    .map((block) =>
      block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trim())
        .join(""),
    )
    .filter((data) => data !== "");
  if (events[events.length - 1] !== "[DONE]") throw new ProviderError(`${url}: the stream ended without [DONE] (truncated)`, null, true);
  let content = "";
  let finishReason: string | null = null;
  let chat = false;
  for (const data of events.slice(0, -1)) {
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
