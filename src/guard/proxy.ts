/**
 * `precept guard`: an OpenAI-compatible proxy (`/v1/chat/completions`, `/v1/completions`,
 * `/v1/models`, streaming) that enforces a constitution in front of any upstream. Each request's
 * input is screened before it is sent and the reply before it is shown; a broken principle's mode
 * decides: `block` answers the policy's refusal (finish_reason "content_filter"; the rule is never
 * quoted), `revise` has the critic rewrite the reply (then blocks if it is still broken), `flag`
 * passes it and records it. A stream is screened in windows and ends with a "content_filter" chunk
 * when it breaks a principle mid-way. Every decision goes to the store; `/metrics` and `/health`
 * are for operations. Clients may need a bearer token; request size, rate and upstream concurrency
 * are bounded (413, 429).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import type { Provider } from "../providers/provider.js";
import type { DecisionLog, Outcome } from "./audit.js";
import type { GuardMetrics } from "./metrics.js";
import { reviseReply } from "./revise.js";
import { actionOf, type Screener, screen, type Verdict } from "./screen.js";
import { WindowedText } from "./stream-window.js";
import { type Upstream, UpstreamError } from "./upstream.js";

export type GuardAppOptions = {
  upstream: Upstream;
  screener: Screener;
  /** Rewrites replies in `revise` mode (required when a principle uses it). */
  critic?: Provider;
  /** Where decisions are stored; null keeps none (metrics only). */
  decisions: DecisionLog | null;
  metrics: GuardMetrics;
  /** Clients must send `Authorization: Bearer <token>` when set. */
  token?: string;
  maxBodyBytes?: number;
  /** Upstream requests in flight at once; more wait. */
  maxConcurrent?: number;
  /** Requests allowed to wait for an upstream slot; more get 429. */
  maxQueue?: number;
  /** Requests per minute per client (by token, else by address); 0: no limit. */
  rateLimitPerMinute?: number;
  /** Where notices go (a decision that could not be stored); default console.error. */
  log?: (line: string) => void;
};

type ErrorStatus = 400 | 401 | 404 | 413 | 429 | 500 | 502 | 503 | 504 | UpstreamError["status"];

class GuardError extends Error {
  constructor(
    readonly status: ErrorStatus,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

const TYPES: Partial<Record<number, string>> = {
  401: "authentication_error",
  404: "not_found_error",
  429: "rate_limit_error",
  500: "server_error",
  502: "upstream_error",
  503: "server_error",
  504: "upstream_timeout",
};
const errorBody = (status: number, message: string, param: string | null = null) => ({
  error: { message, type: TYPES[status] ?? "invalid_request_error", param, code: null },
});
const errorResponse = (status: number, message: string, param: string | null = null, headers: Record<string, string> = {}) =>
  Response.json(errorBody(status, message, param), { status, headers });

/** Upstream slots: at most `max` requests in flight; waiting ones beyond `maxQueue` are refused. */
class Slots {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(
    readonly max: number,
    readonly maxQueue: number,
  ) {}
  async acquire(): Promise<() => void> {
    if (this.#active >= this.max) {
      if (this.#waiting.length >= this.maxQueue)
        throw new GuardError(429, "the guard is busy (too many requests waiting for the upstream); retry later");
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.#waiting.shift()?.();
    };
  }
}

/** A fixed one-minute window per client. */
class RateLimit {
  readonly #counts = new Map<string, { window: number; n: number }>();
  constructor(readonly perMinute: number) {}
  allow(client: string): boolean {
    if (this.perMinute <= 0) return true;
    const window = Math.floor(Date.now() / 60_000);
    const entry = this.#counts.get(client);
    if (!entry || entry.window !== window) {
      if (this.#counts.size > 10_000) this.#counts.clear();
      this.#counts.set(client, { window, n: 1 });
      return true;
    }
    entry.n++;
    return entry.n <= this.perMinute;
  }
}

type Message = { role?: unknown; content?: unknown };

/** A message's text: a string, or its text parts joined. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content
      .map((part) =>
        part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string" ? (part as { text: string }).text : "",
      )
      .join("\n");
  return "";
}

/** What the user said, as screened: every user (and system) turn, so that a jailbreak split over turns is seen whole. */
function chatPrompt(body: Record<string, unknown>): string {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0)
    throw new GuardError(400, "messages: expected a non-empty list of {role, content} messages", "messages");
  return (messages as Message[])
    .filter((m) => m.role === "user" || m.role === "system" || m.role === "developer")
    .map((m) => contentText(m.content))
    .join("\n");
}

function completionPrompt(body: Record<string, unknown>): string {
  const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
  if (typeof prompt !== "string")
    throw new GuardError(400, "prompt: expected one string (the guard screens one prompt per request)", "prompt");
  return prompt;
}

const newId = () => `guard-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
const created = () => Math.floor(Date.now() / 1000);

export type GuardApp = {
  app: Hono;
  /** Resolves when no request is open (for a graceful shutdown). */
  drain(): Promise<void>;
};

export function createGuardApp(options: GuardAppOptions): GuardApp {
  const { upstream, screener, critic, decisions, metrics } = options;
  const policy = screener.policy;
  if (!critic && policy.principles.some((p) => p.mode === "revise"))
    throw new Error(
      `principles ${policy.principles
        .filter((p) => p.mode === "revise")
        .map((p) => p.principle.id)
        .join(", ")} are in revise mode, which needs a critic: give --critic PROVIDER (or use block or flag)`,
    );
  const log = options.log ?? ((line: string) => console.error(line));
  const slots = new Slots(options.maxConcurrent ?? 16, options.maxQueue ?? 256);
  const rate = new RateLimit(options.rateLimitPerMinute ?? 0);
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  let open = 0;
  let idle: (() => void)[] = [];
  const done = () => {
    open--;
    if (open === 0) {
      for (const resolve of idle) resolve();
      idle = [];
    }
  };

  const app = new Hono();
  app.onError((err, c) => {
    if (c.req.raw.signal.aborted) return new Response(null, { status: 499 });
    if (err instanceof GuardError || err instanceof UpstreamError)
      return errorResponse(err.status, err.message, err instanceof GuardError ? err.param : null);
    log(`precept guard: internal error: ${(err as Error).stack ?? err}`);
    return errorResponse(500, `internal error in the guard: ${(err as Error).message}`);
  });
  app.notFound((c) => errorResponse(404, `no route ${c.req.method} ${c.req.path}`));

  app.get("/health", (c) => c.json({ status: "ok", upstream: upstream.baseUrl, principles: policy.principles.map((p) => p.principle.id) }));
  app.get("/metrics", async () => new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } }));

  if (options.token) {
    // Digests of equal length, so neither the comparison's time nor an early length check says anything about the token.
    const digest = (text: string) => createHash("sha256").update(text).digest();
    const expected = digest(options.token);
    app.use("/v1/*", async (c, next) => {
      const given = digest(/^Bearer +(.*)$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "");
      const ok = timingSafeEqual(given, expected);
      if (!ok)
        return errorResponse(401, "missing or wrong bearer token (Authorization: Bearer <token>)", null, { "WWW-Authenticate": "Bearer" });
      return next();
    });
  }
  app.use("/v1/*", async (c, next) => {
    const client =
      c.req.header("authorization") ??
      (c.env as { incoming?: { socket?: { remoteAddress?: string } } })?.incoming?.socket?.remoteAddress ??
      "local";
    if (!rate.allow(client))
      return errorResponse(429, `more than ${options.rateLimitPerMinute} requests this minute; retry in a minute`, null, {
        "Retry-After": "60",
      });
    return next();
  });
  app.use(
    "/v1/*",
    bodyLimit({ maxSize: maxBodyBytes, onError: () => errorResponse(413, `request body larger than ${maxBodyBytes} bytes`) }),
  );

  app.get("/v1/models", async (c) => c.json(await upstream.json("GET", "/models", undefined, c.req.raw.signal)));

  async function body(c: Context): Promise<Record<string, unknown>> {
    let value: unknown;
    try {
      value = await c.req.json();
    } catch {
      throw new GuardError(400, "the request body is not valid JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new GuardError(400, "the request body must be a JSON object");
    const n = (value as { n?: unknown }).n;
    if (n !== undefined && n !== 1) throw new GuardError(400, "n: the guard screens one reply per request (n must be 1)", "n");
    return value as Record<string, unknown>;
  }

  async function store(audit: Parameters<DecisionLog["record"]>[0]): Promise<void> {
    metrics.verdicts(audit.verdicts);
    metrics.request(audit.endpoint, audit.outcome, audit.stream, audit.latencyMs / 1000);
    if (!decisions) return;
    try {
      await decisions.record(audit);
    } catch (err) {
      log(`precept guard: request ${audit.requestId}: its decisions could not be stored: ${(err as Error).message}`);
    }
  }

  /** The outcome of broken principles on a reply that can still be replaced (not streamed yet). */
  async function decide(prompt: string, reply: string, verdicts: Verdict[]): Promise<{ outcome: Outcome; shown: string; more: Verdict[] }> {
    const action = actionOf(verdicts);
    if (action === null) return { outcome: "passed", shown: reply, more: [] };
    if (action === "flag") return { outcome: "flagged", shown: reply, more: [] };
    if (action === "revise" && critic) {
      const revision = await reviseReply(screener, critic, prompt, reply, verdicts, { rounds: policy.reviseRounds });
      if (revision.text !== null) return { outcome: "revised", shown: revision.text, more: revision.verdicts };
      return { outcome: "blocked", shown: policy.refusal, more: revision.verdicts };
    }
    return { outcome: "blocked", shown: policy.refusal, more: [] };
  }

  function handle(endpoint: "chat" | "completions") {
    const path = endpoint === "chat" ? "/chat/completions" : "/completions";
    return async (c: Context) => {
      const started = performance.now();
      const request = await body(c);
      const prompt = endpoint === "chat" ? chatPrompt(request) : completionPrompt(request);
      const requestId = newId();
      const streamed = request.stream === true;
      const signal = c.req.raw.signal;
      open++;
      let release: (() => void) | null = null;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        release?.();
        done();
      };
      try {
        release = await slots.acquire();
        const inputVerdicts = await screen(screener, "input", prompt);
        const inputAction = actionOf(inputVerdicts);
        const headers = { "x-precept-guard-request-id": requestId };
        if (inputAction === "block" || inputAction === "revise") {
          // A request cannot be rewritten: revise on input blocks.
          await store({
            requestId,
            endpoint,
            stream: streamed,
            prompt,
            reply: null,
            shown: policy.refusal,
            outcome: "blocked",
            verdicts: inputVerdicts,
            latencyMs: performance.now() - started,
          });
          finish();
          return streamed
            ? refusalStream(c, endpoint, requestId, String(request.model ?? ""))
            : c.json(
                reply(endpoint, requestId, String(request.model ?? ""), policy.refusal, "content_filter", null, "blocked"),
                200,
                headers,
              );
        }
        const flaggedInput = inputAction === "flag";
        if (!streamed) {
          const answer = await upstream.json("POST", path, request, signal);
          const text = replyText(answer, endpoint, upstream.baseUrl);
          const outputVerdicts = await screen(screener, "output", prompt, text);
          const { outcome, shown, more } = await decide(prompt, text, outputVerdicts);
          const final = outcome === "passed" && flaggedInput ? "flagged" : outcome;
          await store({
            requestId,
            endpoint,
            stream: false,
            prompt,
            reply: text,
            shown,
            outcome: final,
            verdicts: [...inputVerdicts, ...outputVerdicts, ...more],
            latencyMs: performance.now() - started,
          });
          finish();
          if (outcome === "passed" || outcome === "flagged")
            return c.json({ ...answer, precept_guard: { request_id: requestId, outcome: final } }, 200, headers);
          const finishReason = outcome === "blocked" ? "content_filter" : "stop";
          return c.json(
            reply(endpoint, requestId, String(answer.model ?? request.model ?? ""), shown, finishReason, answer.usage ?? null, final),
            200,
            headers,
          );
        }
        return streamReply(c, { endpoint, path, request, prompt, requestId, started, inputVerdicts, flaggedInput, finish });
      } catch (err) {
        finish();
        if (!signal.aborted)
          metrics.request(
            endpoint,
            `error_${err instanceof GuardError || err instanceof UpstreamError ? err.status : 500}`,
            streamed,
            (performance.now() - started) / 1000,
          );
        throw err;
      }
    };
  }

  function streamReply(
    c: Context,
    s: {
      endpoint: "chat" | "completions";
      path: string;
      request: Record<string, unknown>;
      prompt: string;
      requestId: string;
      started: number;
      inputVerdicts: Verdict[];
      flaggedInput: boolean;
      finish: () => void;
    },
  ): Response {
    const signal = c.req.raw.signal;
    c.header("x-precept-guard-request-id", s.requestId);
    const cheap = !screener.judge;
    const window = new WindowedText(policy.window, cheap ? 1 : Math.max(16, policy.window));
    return streamSSE(c, async (sse) => {
      let base: Record<string, unknown> = { id: s.requestId, created: created(), model: String(s.request.model ?? "") };
      const send = (content: string, finishReason: string | null, extra: Record<string, unknown> = {}) => {
        const choice =
          s.endpoint === "chat"
            ? { index: 0, delta: finishReason && content === "" ? {} : { content }, finish_reason: finishReason, logprobs: null }
            : { index: 0, text: content, finish_reason: finishReason, logprobs: null };
        return sse.writeSSE({
          data: JSON.stringify({
            ...base,
            object: s.endpoint === "chat" ? "chat.completion.chunk" : "text_completion",
            choices: [choice],
            ...extra,
          }),
        });
      };
      let verdicts: Verdict[] = [];
      let outcome = (s.flaggedInput ? "flagged" : "passed") as Outcome;
      let upstreamFinish: string | null = null;
      let upstreamText = "";
      try {
        let first = true;
        let stopped = false;
        const check = async (final: boolean): Promise<boolean> => {
          const length = window.text.length;
          verdicts = await screen(screener, "output", s.prompt, window.text);
          const action = actionOf(verdicts);
          if (action === "block" || action === "revise") {
            // What was released cannot be taken back: a stream that breaks a principle stops here.
            outcome = "blocked";
            await send(window.sent.length > 0 ? `\n${policy.refusal}` : policy.refusal, null);
            await send("", "content_filter", {
              precept_guard: { request_id: s.requestId, outcome, reason: "the reply broke the assistant's policy" },
            });
            return false;
          }
          if (action === "flag") outcome = "flagged";
          const out = window.cleared(length, final);
          if (out) await send(out, null);
          return true;
        };
        for await (const chunk of upstream.stream(s.path, s.request, signal)) {
          if (first) {
            base = { id: chunk.id ?? s.requestId, created: chunk.created ?? created(), model: chunk.model ?? base.model };
            if (s.endpoint === "chat")
              await sse.writeSSE({
                data: JSON.stringify({
                  ...base,
                  object: "chat.completion.chunk",
                  choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null, logprobs: null }],
                }),
              });
            first = false;
          }
          const choice = (chunk.choices as Record<string, unknown>[] | undefined)?.[0];
          if (!choice) continue;
          const delta =
            s.endpoint === "chat"
              ? contentText((choice.delta as { content?: unknown } | undefined)?.content)
              : typeof choice.text === "string"
                ? choice.text
                : "";
          upstreamFinish = (choice.finish_reason as string | null) ?? upstreamFinish;
          if (delta) {
            window.push(delta);
            upstreamText += delta;
            if (window.due && !(await check(false))) {
              stopped = true;
              break;
            }
          }
        }
        if (!stopped && (await check(true))) await send("", upstreamFinish ?? "stop");
      } catch (err) {
        if (!signal.aborted) {
          const status = err instanceof UpstreamError ? err.status : 500;
          const message = err instanceof Error ? err.message : String(err);
          if (!(err instanceof UpstreamError)) log(`precept guard: stream ${s.requestId}: ${message}`);
          await sse.writeSSE({ data: JSON.stringify(errorBody(status, message)) }).catch(() => {});
          outcome = outcome === "blocked" ? outcome : "error";
        }
      } finally {
        if (!signal.aborted) await sse.writeSSE({ data: "[DONE]" }).catch(() => {});
        await store({
          requestId: s.requestId,
          endpoint: s.endpoint,
          stream: true,
          prompt: s.prompt,
          reply: upstreamText,
          shown: window.sent,
          outcome,
          verdicts: [...s.inputVerdicts, ...verdicts],
          latencyMs: performance.now() - s.started,
        });
        s.finish();
      }
    });
  }

  /** A refused request as a stream: the refusal, then a "content_filter" finish. */
  function refusalStream(c: Context, endpoint: "chat" | "completions", requestId: string, model: string): Response {
    c.header("x-precept-guard-request-id", requestId);
    return streamSSE(c, async (sse) => {
      const base = { id: requestId, created: created(), model, object: endpoint === "chat" ? "chat.completion.chunk" : "text_completion" };
      const choice = (content: string, finishReason: string | null) =>
        endpoint === "chat"
          ? { index: 0, delta: content ? { role: "assistant", content } : {}, finish_reason: finishReason, logprobs: null }
          : { index: 0, text: content, finish_reason: finishReason, logprobs: null };
      await sse.writeSSE({ data: JSON.stringify({ ...base, choices: [choice(policy.refusal, null)] }) });
      await sse.writeSSE({
        data: JSON.stringify({
          ...base,
          choices: [choice("", "content_filter")],
          precept_guard: { request_id: requestId, outcome: "blocked" },
        }),
      });
      await sse.writeSSE({ data: "[DONE]" });
    });
  }

  app.post("/v1/chat/completions", handle("chat"));
  app.post("/v1/completions", handle("completions"));

  return {
    app,
    drain: () => (open === 0 ? Promise.resolve() : new Promise<void>((resolve) => idle.push(resolve))),
  };
}

/** The reply's text, or a 502 naming the upstream when it has none. */
function replyText(answer: Record<string, unknown>, endpoint: "chat" | "completions", url: string): string {
  const choice = (answer.choices as Record<string, unknown>[] | undefined)?.[0];
  const text = endpoint === "chat" ? contentText((choice?.message as { content?: unknown } | undefined)?.content) : choice?.text;
  if (!choice || typeof text !== "string")
    throw new UpstreamError(502, `the upstream ${url} sent a reply with no choices[0].${endpoint === "chat" ? "message.content" : "text"}`);
  return text;
}

/** A reply the guard wrote (a refusal or a revision), in the endpoint's shape. */
function reply(
  endpoint: "chat" | "completions",
  id: string,
  model: string,
  text: string,
  finishReason: string,
  usage: unknown,
  outcome: Outcome,
) {
  const choice =
    endpoint === "chat"
      ? { index: 0, message: { role: "assistant", content: text }, finish_reason: finishReason, logprobs: null }
      : { index: 0, text, finish_reason: finishReason, logprobs: null };
  return {
    id,
    object: endpoint === "chat" ? "chat.completion" : "text_completion",
    created: created(),
    model,
    choices: [choice],
    usage: usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    precept_guard: { request_id: id, outcome },
  };
}
