/**
 * The model behind the guard: any OpenAI-compatible server (`--upstream URL`: vLLM, Ollama,
 * llama.cpp, `precept serve`) or an in-process app answering the same requests (`--model DIR`, given
 * as a `fetch`). Every attempt has a timeout (for a stream: the longest wait for its next chunk);
 * failures before a reply are retried with backoff; what cannot be helped becomes a 502 (refused,
 * 5xx, malformed reply) or 504 (no reply in time) naming the upstream, never a hang. The upstream's
 * own 4xx (a bad field) goes back to the client as it is.
 */

export type UpstreamOptions = {
  /** The base URL, `http://host:port/v1`. */
  baseUrl: string;
  /** Bearer token for the upstream (not the clients' token). */
  token?: string;
  /** Milliseconds per attempt, and between chunks of a stream (default 60 s). */
  timeoutMs?: number;
  /** Retries after the first attempt, for requests that got no reply (default 2). */
  retries?: number;
  /** Another way to send requests (an in-process app's `fetch`); default the global fetch. */
  fetch?: (request: Request) => Response | Promise<Response>;
};

/** A failure to be answered with `status`; `upstreamBody` is the upstream's own error body, passed on for its 4xx. */
export class UpstreamError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 413 | 422 | 429 | 502 | 504,
    message: string,
    readonly upstreamBody: unknown = null,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Upstream {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #fetch: (request: Request) => Response | Promise<Response>;

  constructor(options: UpstreamOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#retries = options.retries ?? 2;
    this.#fetch = options.fetch ?? ((request) => fetch(request));
  }

  /** One attempt: the response once its status line is in, or an UpstreamError. */
  async #send(method: string, path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: "application/json, text/event-stream" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    try {
      return await this.#fetch(
        new Request(url, { method, headers, signal, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }),
      );
    } catch (err) {
      if (signal.aborted && signal.reason === "timeout")
        throw new UpstreamError(504, `the upstream ${url} did not answer within ${this.#timeoutMs} ms`);
      if (signal.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UpstreamError(
        502,
        `cannot reach the upstream ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message} (is it running? check --upstream)`,
      );
    }
  }

  /** Turns a non-2xx reply into an UpstreamError: the upstream's 4xx passes through, anything else is a 502. */
  async #refuse(response: Response, url: string): Promise<never> {
    const text = await response.text().catch(() => "");
    let body: unknown = null;
    let message = text.slice(0, 300);
    try {
      body = JSON.parse(text);
      message = (body as { error?: { message?: string } }).error?.message ?? message;
    } catch {}
    const status = response.status;
    if ([400, 401, 403, 404, 413, 422, 429].includes(status))
      throw new UpstreamError(status as UpstreamError["status"], `the upstream answered ${status}: ${message}`, body);
    throw new UpstreamError(502, `the upstream ${url} answered ${status}: ${message}`);
  }

  /** With a timeout per attempt and retries while no usable reply came (connection refused, 5xx, 504). */
  async #withRetries<T>(path: string, clientSignal: AbortSignal | undefined, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let last: unknown = null;
    for (let i = 0; i <= this.#retries; i++) {
      if (i > 0) await sleep(Math.min(2000, 100 * 2 ** i) * Math.random());
      if (clientSignal?.aborted) throw clientSignal.reason;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort("timeout"), this.#timeoutMs);
      const onAbort = () => controller.abort(clientSignal?.reason);
      clientSignal?.addEventListener("abort", onAbort, { once: true });
      try {
        return await attempt(controller.signal);
      } catch (err) {
        last = err;
        const retryable = err instanceof UpstreamError && (err.status === 502 || err.status === 504);
        if (!retryable) throw err;
      } finally {
        clearTimeout(timer);
        clientSignal?.removeEventListener("abort", onAbort);
      }
    }
    if (last instanceof UpstreamError && this.#retries > 0)
      throw new UpstreamError(last.status, `${last.message} (${this.#retries + 1} attempts to ${this.baseUrl}${path})`);
    throw last;
  }

  /** A JSON reply (GET without a body, POST with one). */
  async json(method: "GET" | "POST", path: string, body?: unknown, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const url = `${this.baseUrl}${path}`;
    return this.#withRetries(path, signal, async (attemptSignal) => {
      const response = await this.#send(method, path, body, attemptSignal);
      if (!response.ok) await this.#refuse(response, url);
      let text: string;
      try {
        text = await response.text();
      } catch {
        if (attemptSignal.reason === "timeout")
          throw new UpstreamError(504, `the upstream ${url} did not finish its reply within ${this.#timeoutMs} ms`);
        throw new UpstreamError(502, `the upstream ${url} broke off its reply`);
      }
      try {
        const value = JSON.parse(text);
        if (typeof value !== "object" || value === null) throw new Error("not an object");
        return value as Record<string, unknown>;
      } catch (err) {
        throw new UpstreamError(
          502,
          `the upstream ${url} sent malformed JSON (${(err as Error).message}): ${JSON.stringify(text.slice(0, 120))}`,
        );
      }
    });
  }

  /**
   * A streamed reply's chunks (the JSON of each `data:` event) up to `[DONE]`. Connecting is retried;
   * once chunks flow, a break, a silence longer than the timeout or a malformed chunk ends it with an
   * UpstreamError (the client has seen part of the reply; it is not sent twice).
   */
  async *stream(path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<Record<string, unknown>> {
    const url = `${this.baseUrl}${path}`;
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await this.#withRetries(path, signal, async (attemptSignal) => {
        // The attempt's signal times out the connection; the stream's own ends the body later.
        const r = await this.#send("POST", path, body, AbortSignal.any([attemptSignal, controller.signal]));
        if (!r.ok) await this.#refuse(r, url);
        if (!r.body) throw new UpstreamError(502, `the upstream ${url} sent no stream`);
        return r;
      });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const silence = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new UpstreamError(504, `the upstream ${url} sent nothing for ${this.#timeoutMs} ms in the middle of a stream`)),
            this.#timeoutMs,
          );
        });
        let read: Awaited<ReturnType<typeof reader.read>>;
        try {
          read = await Promise.race([reader.read(), silence]);
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          if (err instanceof UpstreamError) throw err;
          throw new UpstreamError(502, `the upstream ${url} broke off its stream: ${(err as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
        if (read.done) throw new UpstreamError(502, `the upstream ${url} ended its stream without [DONE] (truncated)`);
        buffer += decoder.decode(read.value, { stream: true });
        let end = buffer.search(/\r?\n\r?\n/);
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + (buffer[end] === "\r" ? 4 : 2));
          const data = block
            .split(/\r?\n/)
            .filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(5).trimStart())
            .join("\n");
          if (data === "[DONE]") return;
          if (data !== "") {
            let chunk: unknown;
            try {
              chunk = JSON.parse(data);
            } catch {
              throw new UpstreamError(502, `the upstream ${url} sent a malformed stream chunk: ${JSON.stringify(data.slice(0, 120))}`);
            }
            const error = (chunk as { error?: { message?: string } }).error;
            if (error) throw new UpstreamError(502, `the upstream ${url} failed mid-stream: ${error.message ?? JSON.stringify(error)}`);
            yield chunk as Record<string, unknown>;
          }
          end = buffer.search(/\r?\n\r?\n/);
        }
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      controller.abort("done"); // stop reading whatever the upstream still sends
    }
  }
}
