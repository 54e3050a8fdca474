/**
 * JSON over HTTP with the behaviour every remote provider needs:
 * - at most `concurrency` requests in flight;
 * - a timeout per attempt; retries with exponential backoff and full jitter
 *   on 429, 5xx, network errors, timeouts, malformed JSON and truncated
 *   streams, honouring `Retry-After`; other 4xx fail at once with the
 *   server's message;
 * - a cache keyed by the full request (URL + body), filled only by complete,
 *   valid replies, so a rerun costs nothing and a failure is never cached;
 * - counts of requests, attempts and cache hits.
 */
import { createHash } from "node:crypto";
import { ProviderError } from "./provider.js";

export type HttpOptions = {
  baseUrl: string;
  headers?: Record<string, string>;
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

export type Usage = {
  requests: number;
  attempts: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
};

/** Prices in USD per million tokens, for cost accounting. */
export type Pricing = { inputPerMTok: number; outputPerMTok: number };

/** Adds a reply's token counts (and their cost) to `usage`. */
export function countTokens(usage: Usage, promptTokens: number, completionTokens: number, pricing?: Pricing): void {
  usage.promptTokens += promptTokens;
  usage.completionTokens += completionTokens;
  if (pricing) usage.costUsd += (promptTokens * pricing.inputPerMTok + completionTokens * pricing.outputPerMTok) / 1e6;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry-After as seconds or an HTTP date → milliseconds, or null. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
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

export class HttpClient {
  readonly usage: Usage = { requests: 0, attempts: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 };
  readonly #options: Required<HttpOptions>;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: HttpOptions) {
    this.#options = {
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      headers: options.headers ?? {},
      timeoutMs: options.timeoutMs ?? 60_000,
      maxRetries: options.maxRetries ?? 5,
      backoffMs: options.backoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 60_000,
      concurrency: options.concurrency ?? 4,
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

  /**
   * POSTs `body` to `path` with retries; returns the parsed reply, or, for a
   * streamed request, what `assemble` makes of the server-sent events.
   */
  async post(
    path: string,
    body: Record<string, unknown>,
    assemble?: (events: string[], url: string) => Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
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
    const reply = await this.#slot(() => this.#withRetries(url, body, assemble));
    await this.#options.cache.set(key, reply);
    return reply;
  }

  async #withRetries(
    url: string,
    body: Record<string, unknown>,
    assemble?: (events: string[], url: string) => Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    let lastError: ProviderError | null = null;
    for (let attempt = 0; attempt <= this.#options.maxRetries; attempt++) {
      if (attempt > 0) {
        const exponential = Math.min(this.#options.maxBackoffMs, this.#options.backoffMs * 2 ** (attempt - 1));
        await sleep(lastError instanceof RetryAfter ? Math.min(this.#options.maxBackoffMs, lastError.waitMs) : Math.random() * exponential);
      }
      this.usage.attempts++;
      try {
        return await this.#attempt(url, body, assemble);
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

  async #attempt(
    url: string,
    body: Record<string, unknown>,
    assemble?: (events: string[], url: string) => Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#options.timeoutMs);
    try {
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", ...this.#options.headers },
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
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        throw new ProviderError(
          controller.signal.aborted
            ? `${url}: the reply did not finish within ${this.#options.timeoutMs} ms`
            : `${url}: the reply broke off: ${(error as Error).message}`,
          null,
          true,
        );
      }
      return assemble && body.stream ? assemble(serverSentEvents(text, url), url) : parseJson(text, url);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function parseJson(text: string, url: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text);
    if (typeof value !== "object" || value === null) throw new Error("not an object");
    return value as Record<string, unknown>;
  } catch (error) {
    throw new ProviderError(`${url}: malformed JSON in the reply (${(error as Error).message}): ${text.slice(0, 120)}`, null, true);
  }
}

/** The `data:` payloads of a server-sent-event body; a stream without `[DONE]` was truncated (retryable). */
export function serverSentEvents(text: string, url: string): string[] {
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
  return events.slice(0, -1);
}
