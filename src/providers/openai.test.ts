import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runServe } from "../cli/serve.js";
import { Rng } from "../engine/rng.js";
import { ByteTokenizer } from "../models/byte-tokenizer.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { loadModel, saveModel } from "../models/io.js";
import { CausalLM } from "../models/model.js";
import { createOpenAiApp } from "../server/openai.js";
import { LocalProvider } from "./local.js";
import { MemoryCache, OpenAiProvider, retryAfterMs } from "./openai.js";
import { NotSupportedError } from "./provider.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-providers-"));
let served: { close: () => Promise<void>; port: number };
let securedServe: { close: () => Promise<void>; port: number };
let local: LocalProvider;

beforeAll(async () => {
  const tokenizer = new ByteTokenizer({ extraSpecialTokens: ["<|im_start|>", "<|im_end|>"] });
  const config = gpt2ConfigSchema.parse({
    vocab_size: tokenizer.vocabSize,
    n_positions: 128,
    n_embd: 32,
    n_layer: 1,
    n_head: 2,
    initializer_range: 0.3,
  });
  const model = new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(0)), tokenizer);
  await saveModel(model, join(tmp, "model"));
  served = await runServe({ model: join(tmp, "model"), host: "127.0.0.1", port: 0, name: "tiny" });
  securedServe = await runServe({ model: join(tmp, "model"), host: "127.0.0.1", port: 0, name: "tiny", token: "s3cret" });
  local = new LocalProvider(await loadModel(join(tmp, "model")));
});
afterAll(async () => {
  await served?.close();
  await securedServe?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const base = () => `http://127.0.0.1:${served.port}/v1`;

describe("the HTTP provider against precept serve (a real socket)", () => {
  it("lists the model, completes, chats and streams the same text", async () => {
    const models = (await (await fetch(`${base()}/models`)).json()) as { data: { id: string }[] };
    expect(models.data[0]?.id).toBe("tiny");
    const provider = new OpenAiProvider({ model: "tiny", baseUrl: base() });
    const [completion] = await provider.generate(["Hello"], { maxTokens: 8, temperature: 0 });
    const [expected] = await local.generate(["Hello"], { maxTokens: 8, temperature: 0 });
    expect(completion?.text).toBe(expected?.text);
    expect(completion?.usage).toEqual({ promptTokens: 5, completionTokens: expected?.usage.completionTokens });
    const [chat] = await provider.chat([[{ role: "user", content: "Hi" }]], { maxTokens: 6, temperature: 0 });
    const [expectedChat] = await local.chat([[{ role: "user", content: "Hi" }]], { maxTokens: 6, temperature: 0 });
    expect(chat?.text).toBe(expectedChat?.text);
    const streaming = new OpenAiProvider({ model: "tiny", baseUrl: base(), stream: true });
    expect((await streaming.generate(["Hello"], { maxTokens: 8, temperature: 0 }))[0]?.text).toBe(expected?.text);
    expect((await streaming.chat([[{ role: "user", content: "Hi" }]], { maxTokens: 6, temperature: 0 }))[0]?.text).toBe(expectedChat?.text);
  });

  it("scores completions through echo + logprobs, matching the local model", async () => {
    const provider = new OpenAiProvider({ model: "tiny", baseUrl: base() });
    const remote = await provider.logprobs("The answer:", [" yes", " no way"]);
    const direct = await local.logprobs("The answer:", [" yes", " no way"]);
    for (const [i, value] of remote.entries()) expect(value).toBeCloseTo(direct[i] as number, 4);
    const chat = await fetch(`${base()}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "Hi" }], max_tokens: 3, temperature: 0, logprobs: true, top_logprobs: 2 }),
    }).then(
      (r) => r.json() as Promise<{ choices: { logprobs: { content: { logprob: number; top_logprobs: { logprob: number }[] }[] } }[] }>,
    );
    expect(chat.choices[0]?.logprobs.content).toHaveLength(3);
    const first = chat.choices[0]?.logprobs.content[0];
    expect(first?.top_logprobs).toHaveLength(2);
    expect(first?.top_logprobs[0]?.logprob).toBeCloseTo(first?.logprob as number, 5); // greedy: the top token
  });

  it("rejects malformed requests with 400, unauthorized ones with 401, oversized bodies with 413", async () => {
    type ErrorBody = { error: { message: string; param: string | null; type: string } };
    const post = async (path: string, body: string) => {
      const response = await fetch(`${base()}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });
      return { status: response.status, body: (await response.json()) as ErrorBody };
    };
    const badJson = await post("/completions", "{nope");
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.message).toMatch(/not valid JSON/);
    const badField = await post("/completions", JSON.stringify({ prompt: "hi", temperature: 7 }));
    expect(badField.status).toBe(400);
    expect(badField.body.error).toMatchObject({ param: "temperature", type: "invalid_request_error" });
    const missing = await post("/chat/completions", JSON.stringify({ max_tokens: 3 }));
    expect(missing.body.error.param).toBe("messages");
    expect(await statusOfLargePost(`${base()}/completions`, JSON.stringify({ prompt: "x".repeat(2 << 20) }))).toBe(413);
    const secured = `http://127.0.0.1:${securedServe.port}/v1`;
    expect((await fetch(`${secured}/models`)).status).toBe(401);
    expect((await fetch(`${secured}/models`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${secured}/models`, { headers: { authorization: "Bearer s3cret" } })).status).toBe(200);
    expect((await fetch(`${base()}/nothing`)).status).toBe(404);
  });
});

describe("precept serve under load", () => {
  it("answers 429 when more requests wait than its queue allows", async () => {
    const app = createOpenAiApp({ model: local.model, name: "tiny", maxQueue: 1 });
    const send = () =>
      app.request("/v1/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "Hello", max_tokens: 4 }),
      });
    const statuses = (await Promise.all([send(), send(), send()])).map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses).toContain(429);
  });
});

/** POSTs a large body with node:http, which (unlike fetch) still reports the status when the server answers before reading it all. */
function statusOfLargePost(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on("error", (error) => setTimeout(() => reject(error), 200)); // a reset after the response is expected
    request.end(body);
  });
}

/** A loopback server that answers each request with the next scripted behaviour. */
function faultServer(
  script: ((req: IncomingMessage, res: ServerResponse) => void)[],
): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const behaviour = script[Math.min(hits, script.length - 1)] as (req: IncomingMessage, res: ServerResponse) => void;
      hits++;
      behaviour(req, res);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://127.0.0.1:${port}/v1`,
        hits: () => hits,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    }),
  );
}

const ok = (text: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ choices: [{ index: 0, text, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 2 } }));
};
const status =
  (code: number, headers: Record<string, string> = {}) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(code, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify({ error: { message: `scripted ${code}` } }));
  };

describe("the HTTP provider against a fault-injecting server", () => {
  it("waits as long as Retry-After says after a 429, then succeeds", async () => {
    const server = await faultServer([status(429, { "retry-after": "0.3" }), ok("fine")]);
    const provider = new OpenAiProvider({ model: "m", baseUrl: server.url, backoffMs: 1 });
    const started = Date.now();
    expect((await provider.generate(["p"]))[0]?.text).toBe("fine");
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(provider.usage).toMatchObject({ attempts: 2, promptTokens: 3, completionTokens: 2 });
    await server.close();
  });

  it("retries 500s with backoff, and gives up with a clear error after maxRetries", async () => {
    const flaky = await faultServer([status(500), status(503), ok("third time")]);
    const provider = new OpenAiProvider({ model: "m", baseUrl: flaky.url, backoffMs: 5 });
    expect((await provider.generate(["p"]))[0]?.text).toBe("third time");
    expect(flaky.hits()).toBe(3);
    await flaky.close();
    const down = await faultServer([status(500)]);
    const stubborn = new OpenAiProvider({ model: "m", baseUrl: down.url, backoffMs: 1, maxRetries: 2 });
    await expect(stubborn.generate(["p"])).rejects.toThrow(/gave up after 3 attempts: .*HTTP 500: scripted 500/);
    await down.close();
  });

  it("times out a server that hangs, and does not retry a 400", async () => {
    const hang = await faultServer([() => {}]);
    const provider = new OpenAiProvider({ model: "m", baseUrl: hang.url, timeoutMs: 150, maxRetries: 1, backoffMs: 1 });
    await expect(provider.generate(["p"])).rejects.toThrow(/no reply within 150 ms/);
    expect(hang.hits()).toBe(2);
    await hang.close();
    const bad = await faultServer([status(400)]);
    const strict = new OpenAiProvider({ model: "m", baseUrl: bad.url });
    await expect(strict.generate(["p"])).rejects.toThrow(/HTTP 400: scripted 400/);
    expect(bad.hits()).toBe(1);
    await bad.close();
  });

  it("retries malformed JSON and truncated streams, and never caches a failed reply", async () => {
    const malformed = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"choices": [');
    };
    const truncated = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`data: ${JSON.stringify({ choices: [{ index: 0, text: "partial", finish_reason: null }] })}\n\n`);
    };
    const server = await faultServer([malformed, malformed, ok("good")]);
    const cache = new MemoryCache();
    const provider = new OpenAiProvider({ model: "m", baseUrl: server.url, backoffMs: 1, maxRetries: 1, cache });
    await expect(provider.generate(["p"])).rejects.toThrow(/malformed JSON in the reply/);
    expect(cache.size).toBe(0);
    expect((await provider.generate(["p"]))[0]?.text).toBe("good"); // a new request, not a cached failure
    expect(cache.size).toBe(1);
    expect((await provider.generate(["p"]))[0]?.text).toBe("good");
    expect(server.hits()).toBe(3); // the last call came from the cache
    expect(provider.usage.cacheHits).toBe(1);
    await server.close();
    const stream = await faultServer([truncated]);
    const streaming = new OpenAiProvider({ model: "m", baseUrl: stream.url, stream: true, backoffMs: 1, maxRetries: 1 });
    await expect(streaming.generate(["p"])).rejects.toThrow(/stream ended without \[DONE\] \(truncated\)/);
    expect(stream.hits()).toBe(2);
    await stream.close();
  });

  it("says when a server cannot score log-probs, and parses Retry-After dates", async () => {
    const server = await faultServer([status(400)]);
    await expect(new OpenAiProvider({ model: "m", baseUrl: server.url }).logprobs("a", ["b"])).rejects.toThrow(NotSupportedError);
    await server.close();
    expect(retryAfterMs("2")).toBe(2000);
    expect(retryAfterMs(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1, 0, 0, 0))).toBe(10_000);
    expect(retryAfterMs(null)).toBeNull();
  });
});
