/**
 * An OpenAI-compatible HTTP API over a local model (`precept serve`):
 * `GET /v1/models`, `POST /v1/completions` and `POST /v1/chat/completions`,
 * with `logprobs` / `top_logprobs`, `echo` (prompt log-probs, as vLLM), and
 * streaming as server-sent events. Requests are validated before anything
 * runs (400 naming the field, also for streamed requests), bodies are bounded
 * (413) and must be JSON (415), waiting requests are bounded (429), a bearer
 * token can be required (401), and only local `Host:` names are answered (403)
 * unless more are allowed; CORS is off unless origins are listed. Generation
 * runs one request at a time (the model lives in this process) and stops when
 * its client goes away. Chat renders messages with the model's chat template
 * and also stops at the model's stop strings (generation_config.json).
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { GenerateOptions, Generation } from "../models/generate.js";
import type { CausalLM } from "../models/model.js";
import type { Tokenizer } from "../models/tokenizer.js";
import { ApiError, errorBody, errorResponse, toApiError, zodError } from "./http-errors.js";
import { allowHosts, LOOPBACK_HOSTS, requireBearer, requireJson } from "./request-guards.js";
import { type ServingEngine, wasmEngine } from "./serving-engine.js";

const stopString = z.string().min(1, "a stop string must not be empty");
const stopSchema = z.union([stopString, z.array(stopString).max(4)]).optional();
const common = {
  model: z.string().optional(),
  max_tokens: z.number().int().positive().max(4096).optional(),
  temperature: z.number().min(0).max(2).default(1),
  top_p: z.number().gt(0).max(1).optional(),
  stop: stopSchema.nullable(),
  seed: z.number().int().optional(),
  stream: z.boolean().default(false),
  n: z.literal(1).default(1),
};
const completionSchema = z.object({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).min(1).max(64)]),
  logprobs: z.number().int().min(0).max(20).nullable().optional(),
  echo: z.boolean().default(false),
});
const chatSchema = z.object({
  ...common,
  messages: z
    .array(
      z.object({
        role: z.enum(["system", "user", "assistant", "tool", "developer"]),
        // A string, or content parts as current SDKs send them (only text parts are accepted, see messageText).
        content: z.union([z.string(), z.array(z.object({ type: z.string(), text: z.string().optional() }))]),
      }),
    )
    .min(1),
  max_completion_tokens: z.number().int().positive().max(4096).optional(),
  logprobs: z.boolean().default(false),
  top_logprobs: z.number().int().min(0).max(20).optional(),
});

export type ServerOptions = {
  /** The in-process model to serve, or an engine (llama.cpp: `llamaEngine`). */
  model: CausalLM | ServingEngine;
  /** The model name clients see. */
  name: string;
  /** Require `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Largest accepted request body in bytes. */
  maxBodyBytes?: number;
  /** Requests allowed to wait for the model; more get 429. */
  maxQueue?: number;
  /** `Host:` names answered besides localhost, 127.0.0.1 and ::1 (`*`: any); others get 403 (DNS rebinding). */
  allowedHosts?: readonly string[];
  /** Browser origins allowed to call the API (CORS); none by default. */
  corsOrigins?: readonly string[];
  /** Where notices go (a client that went away); default console.log. */
  log?: (line: string) => void;
};

/** One chat message's text: the string, or its text parts joined by newlines (as vLLM); other parts are refused. */
function messageText(content: string | { type: string; text?: string | undefined }[], index: number): string {
  if (typeof content === "string") return content;
  return content
    .map((part, j) => {
      const at = `messages[${index}].content[${j}]`;
      if (part.type !== "text")
        throw new ApiError(
          400,
          `${at}.type: only text parts are supported (this model reads text), not ${JSON.stringify(part.type)}`,
          `${at}.type`,
        );
      if (part.text === undefined) throw new ApiError(400, `${at}.text: a text part needs its text`, `${at}.text`);
      return part.text;
    })
    .join("\n");
}

/**
 * Text deltas of a stream, so that together they are exactly the final text: special tokens skipped,
 * cut at the first stop string, and nothing sent that a stop string could still take back or that is
 * only part of a UTF-8 character (decoded as U+FFFD until its last byte arrives).
 */
class StreamedText {
  readonly #tokens: number[] = [];
  #sent = 0;
  #stopped = false;
  constructor(
    readonly tokenizer: Tokenizer,
    readonly stops: readonly string[],
  ) {}

  push(token: number): string {
    if (this.#stopped) return "";
    this.#tokens.push(token);
    const text = this.tokenizer.decode(this.#tokens, { skipSpecialTokens: true });
    let safe = text.length;
    for (const stop of this.stops) {
      const at = text.indexOf(stop);
      if (at >= 0) {
        safe = Math.min(safe, at);
        this.#stopped = true;
      }
    }
    if (!this.#stopped) {
      for (const stop of this.stops) {
        for (let k = Math.min(stop.length - 1, text.length); k > 0; k--) {
          if (text.endsWith(stop.slice(0, k))) {
            safe = Math.min(safe, text.length - k);
            break;
          }
        }
      }
      while (safe > 0 && text[safe - 1] === "\uFFFD") safe--;
    }
    if (safe <= this.#sent) return "";
    const delta = text.slice(this.#sent, safe);
    this.#sent = safe;
    return delta;
  }

  /** What is left of the final text once generation is over. */
  rest(finalText: string): string {
    return finalText.slice(this.#sent);
  }
}

/** Runs generation jobs one at a time and refuses new ones past `maxQueue` waiting. */
class Queue {
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;
  constructor(readonly maxQueue: number) {}
  get full(): boolean {
    return this.#waiting >= this.maxQueue;
  }
  run<T>(job: () => Promise<T>): Promise<T> {
    this.#waiting++;
    const result = this.#tail.then(job);
    this.#tail = result.catch(() => {}).finally(() => this.#waiting--);
    return result;
  }
}

export function createOpenAiApp({
  model,
  name,
  token,
  maxBodyBytes = 1 << 20,
  maxQueue = 64,
  allowedHosts = [],
  corsOrigins = [],
  log = console.log,
}: ServerOptions): Hono {
  const engine = "scorePrompts" in model ? model : wasmEngine(model);
  const tokenizer = engine.tokenizer;
  if (!tokenizer) throw new Error(`${name}: serving needs a model with a tokenizer`);
  const queue = new Queue(maxQueue);
  const app = new Hono();
  app.onError((err, c) => {
    // Nobody is listening any more (nginx's "client closed request").
    if (c.req.raw.signal.aborted) return new Response(null, { status: 499 });
    const e = toApiError(err);
    return errorResponse(e.status, e.message, e.param);
  });
  app.notFound((c) => errorResponse(404, `no route ${c.req.method} ${c.req.path}`));
  // Order matters: a foreign Host is refused first; a CORS preflight is answered before auth (browsers send no token with it).
  app.use("*", allowHosts([...LOOPBACK_HOSTS, ...allowedHosts]));
  if (corsOrigins.length > 0)
    app.use(
      "/v1/*",
      cors({ origin: [...corsOrigins], allowMethods: ["GET", "POST"], allowHeaders: ["Authorization", "Content-Type"], maxAge: 600 }),
    );
  if (token) app.use("/v1/*", requireBearer(token));
  app.use("/v1/*", requireJson());
  app.use(
    "/v1/*",
    bodyLimit({ maxSize: maxBodyBytes, onError: () => errorResponse(413, `request body larger than ${maxBodyBytes} bytes`) }),
  );

  app.get("/v1/models", (c) => c.json({ object: "list", data: [{ id: name, object: "model", created: 0, owned_by: "precept" }] }));

  async function parse<S extends z.ZodType>(request: Request, schema: S): Promise<z.output<S>> {
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      throw new ApiError(400, "the request body is not valid JSON");
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw zodError(parsed.error);
    return parsed.data;
  }

  /** Refuses a request when too many wait; called just before the job is queued, with no await between (so requests cannot race past it). */
  function admit(): void {
    if (queue.full) throw new ApiError(429, "the server is busy; retry later");
  }

  /** Generates in turn with the queue, stopping (and saying so) when the request's client goes away. */
  async function generate(c: Context, ids: number[][], options: GenerateOptions): Promise<Generation[]> {
    const signal = c.req.raw.signal;
    admit();
    try {
      return await queue.run(() => engine.generate(ids, { ...options, signal }));
    } catch (err) {
      if (signal.aborted) log(`precept serve: ${c.req.method} ${c.req.path}: the client went away; generation stopped`);
      throw err;
    }
  }

  /**
   * A response streamed as server-sent events. `body` writes the events (`send` keeps them in order
   * without waiting); a failure once streaming started becomes an error event, which OpenAI's SDKs
   * raise, and every stream ends with `[DONE]`.
   */
  function sse(c: Context, body: (send: (data: object) => void) => Promise<void>): Response {
    admit(); // a 429 while it can still be a status
    return streamSSE(c, async (stream) => {
      let written: Promise<void> = Promise.resolve();
      const send = (data: object) => {
        written = written.then(() => stream.writeSSE({ data: JSON.stringify(data) }));
      };
      try {
        await body(send);
        await written;
      } catch (err) {
        await written.catch(() => {});
        if (c.req.raw.signal.aborted) return;
        const e = toApiError(err);
        await stream.writeSSE({ data: JSON.stringify(errorBody(e.status, e.message, e.param)) });
      }
      await stream.writeSSE({ data: "[DONE]" });
    });
  }

  const stops = (stop: string | string[] | null | undefined) => (stop ? (Array.isArray(stop) ? stop : [stop]) : []);
  const finish = (g: Generation) => (g.finishReason === "length" ? "length" : "stop");
  const id = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const created = () => Math.floor(Date.now() / 1000);
  const { maxPositions } = engine;

  /** New tokens for a request: what it asks for (or a default clipped to the room left), refused when it does not fit the context. */
  function tokenBudget(promptLength: number, asked: number | undefined, fallback: number, field: string, promptField: string): number {
    const room = maxPositions - promptLength;
    if (room < 1)
      throw new ApiError(
        400,
        `${promptField}: the prompt has ${promptLength} tokens, which leaves no room in the model's ${maxPositions}-token context`,
        promptField,
      );
    if (asked !== undefined && asked > room)
      throw new ApiError(
        400,
        `${field}: ${asked} new tokens do not fit after a ${promptLength}-token prompt in the model's ${maxPositions}-token context (at most ${room})`,
        field,
      );
    return asked ?? Math.min(fallback, room);
  }

  app.post("/v1/completions", async (c) => {
    const body = await parse(c.req.raw, completionSchema);
    const prompts = Array.isArray(body.prompt) ? body.prompt : [body.prompt];
    const ids = prompts.map((p) => tokenizer.encode(p));
    if (ids.some((p) => p.length === 0)) throw new ApiError(400, "prompt: must not be empty", "prompt");
    const maxTokens = tokenBudget(Math.max(...ids.map((p) => p.length)), body.max_tokens, 16, "max_tokens", "prompt");
    const options = {
      maxNewTokens: maxTokens,
      temperature: body.temperature,
      stop: stops(body.stop),
      seed: body.seed ?? 0,
      topLogprobs: body.logprobs ?? 0,
      ...(body.top_p ? { topP: body.top_p } : {}),
    };
    if (body.stream) {
      return sse(c, async (send) => {
        const responseId = id("cmpl");
        const texts = ids.map(() => new StreamedText(tokenizer, options.stop));
        const chunk = (index: number, text: string, finishReason: string | null) =>
          send({
            id: responseId,
            object: "text_completion",
            created: created(),
            model: name,
            choices: [{ index, text, finish_reason: finishReason }],
          });
        const results = await generate(c, ids, {
          ...options,
          onToken: (row, token) => {
            const text = (texts[row] as StreamedText).push(token);
            if (text) chunk(row, text, null);
          },
        });
        for (const [index, g] of results.entries()) {
          const rest = (texts[index] as StreamedText).rest(g.text ?? "");
          if (rest) chunk(index, rest, null);
          chunk(index, "", finish(g));
        }
      });
    }
    const results = await generate(c, ids, options);
    const echoed = body.echo && body.logprobs !== null && body.logprobs !== undefined ? await queue.run(() => promptLogprobs(ids)) : null;
    const choices = results.map((g, index) => {
      const text = g.text ?? "";
      const logprobs =
        body.logprobs === null || body.logprobs === undefined
          ? null
          : completionLogprobs(g, ids[index] as number[], echoed?.[index] ?? null, body.echo);
      return { index, text: body.echo ? `${prompts[index]}${text}` : text, finish_reason: finish(g), logprobs };
    });
    const completionTokens = results.reduce((n, g) => n + g.tokens.length, 0);
    const promptTokens = ids.reduce((n, p) => n + p.length, 0);
    return c.json({
      id: id("cmpl"),
      object: "text_completion",
      created: created(),
      model: name,
      choices,
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    });
  });

  /** Log-probs of each prompt token given the ones before it (the first has none), for `echo`. */
  async function promptLogprobs(ids: number[][]): Promise<(number | null)[][]> {
    return (await engine.scorePrompts(ids)).map((lp) => [null, ...lp]);
  }

  function completionLogprobs(g: Generation, prompt: number[], promptLps: (number | null)[] | null, echo: boolean) {
    const tokens = [...(echo ? prompt : []), ...g.tokens];
    const logprobs = [...(echo ? (promptLps ?? prompt.map(() => null)) : []), ...g.logprobs];
    const top = [...(echo ? prompt.map(() => null) : []), ...(g.topLogprobs ?? g.tokens.map(() => null))];
    const strings = tokens.map((t) => tokenizer?.decode([t]) ?? "");
    const offsets: number[] = [];
    let offset = 0;
    for (const s of strings) {
      offsets.push(offset);
      offset += s.length;
    }
    return {
      tokens: strings,
      token_logprobs: logprobs,
      top_logprobs: top.map((entries) =>
        entries ? Object.fromEntries(entries.map(([t, lp]) => [tokenizer?.decode([t]) ?? "", lp])) : null,
      ),
      text_offset: offsets,
    };
  }

  app.post("/v1/chat/completions", async (c) => {
    const body = await parse(c.req.raw, chatSchema);
    const messages = body.messages.map((m, i) => ({ role: m.role, content: messageText(m.content, i) }));
    if (tokenizer.chatTemplate === null) {
      throw new ApiError(
        400,
        `${name} has no chat template (no chat_template in its tokenizer_config.json), so its messages cannot be turned into a prompt: ` +
          "add the template of the format the model was trained on (Precept's HUMAN_ASSISTANT_TEMPLATE and CHATML_TEMPLATE are ready-made), " +
          "or send a prompt already in that format to /v1/completions",
        "messages",
      );
    }
    let prompt: string;
    try {
      prompt = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    } catch (err) {
      throw new ApiError(400, `messages: ${(err as Error).message}`, "messages");
    }
    // The template writes any BOS itself, as in `transformers`' apply_chat_template.
    const ids = [tokenizer.encode(prompt, { addSpecialTokens: false })];
    const field = body.max_completion_tokens !== undefined ? "max_completion_tokens" : "max_tokens";
    const maxNewTokens = tokenBudget((ids[0] as number[]).length, body.max_completion_tokens ?? body.max_tokens, 256, field, "messages");
    const options = {
      maxNewTokens,
      temperature: body.temperature,
      // A reply ends where the chat format ends a turn, whatever else the request asks to stop at.
      stop: [...new Set([...stops(body.stop), ...tokenizer.stopStrings])],
      seed: body.seed ?? 0,
      topLogprobs: body.logprobs ? (body.top_logprobs ?? 0) : 0,
      ...(body.top_p ? { topP: body.top_p } : {}),
    };
    if (body.stream) {
      return sse(c, async (send) => {
        const base = { id: id("chatcmpl"), object: "chat.completion.chunk", created: created(), model: name };
        send({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
        const text = new StreamedText(tokenizer, options.stop);
        const delta = (content: string) => send({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] });
        const [result] = await generate(c, ids, {
          ...options,
          onToken: (_row, token) => {
            const content = text.push(token);
            if (content) delta(content);
          },
        });
        const rest = text.rest((result as Generation).text ?? "");
        if (rest) delta(rest);
        send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finish(result as Generation) }] });
      });
    }
    const [g] = await generate(c, ids, options);
    const result = g as Generation;
    const content = result.text ?? "";
    // Log-probs of the tokens that make up the reply: not the EOS, nor what came after a stop string.
    let shown = 0;
    while (
      shown < result.tokens.length &&
      tokenizer.decode(result.tokens.slice(0, shown), { skipSpecialTokens: true }).length < content.length
    )
      shown++;
    const logprobs = body.logprobs
      ? {
          content: result.tokens.slice(0, shown).map((t, i) => ({
            token: tokenizer.decode([t]),
            logprob: result.logprobs[i],
            top_logprobs: (result.topLogprobs?.[i] ?? []).map(([alt, lp]) => ({ token: tokenizer.decode([alt]), logprob: lp })),
          })),
        }
      : null;
    const promptTokens = (ids[0] as number[]).length;
    return c.json({
      id: id("chatcmpl"),
      object: "chat.completion",
      created: created(),
      model: name,
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: finish(result), logprobs }],
      usage: { prompt_tokens: promptTokens, completion_tokens: result.tokens.length, total_tokens: promptTokens + result.tokens.length },
    });
  });
  return app;
}
