/**
 * `precept serve` against an unlucky user and a hostile web page (issue 20), over real sockets on the
 * shipped sandbox model, with the official `openai` client where a client is involved: streamed
 * requests validated before streaming and errors after it surfaced by the SDK, 4xx for a client's
 * mistakes and 500 for the server's, generation stopped when the client goes away, cross-site
 * requests refused, and the CLI's start-up failures in one line.
 */
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { serve } from "@hono/node-server";
import OpenAI, { APIError, BadRequestError, InternalServerError } from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runPrecept } from "../../test/helpers/cli.js";
import { responsePrompt } from "../cai/format.js";
import { runServe } from "../cli/serve.js";
import { initEngine } from "../engine/device.js";
import { liveBuffers } from "../engine/live-buffers.js";
import { loadModel } from "../models/io.js";
import type { CausalLM } from "../models/model.js";
import type { Tokenizer } from "../models/tokenizer.js";
import { createOpenAiApp, type ServerOptions } from "./openai.js";

const SANDBOX_BASE = new URL("../../models/sandbox-base", import.meta.url).pathname;
const name = "sandbox-base";
const logs: string[] = [];
const closers: (() => Promise<void>)[] = [];
let model: CausalLM;
let faulty: CausalLM;
let fault = { armed: false, decodes: 0 };
let port: number;
let faultyPort: number;

/** Serves `m` on a free loopback port with the options given. */
async function listen(m: CausalLM, options: Partial<ServerOptions> = {}): Promise<number> {
  const app = createOpenAiApp({ model: m, name, log: (line: string) => logs.push(line), ...options });
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      closers.push(() => new Promise((done) => server.close(() => done())));
      resolve(info.port);
    });
  });
}

/** A tokenizer that fails (as a bug in the server would) on the 7th decode once armed: mid-generation, after chunks were sent. */
function failingTokenizer(tokenizer: Tokenizer): Tokenizer {
  return new Proxy(tokenizer, {
    get(target, key) {
      if (key === "decode")
        return (ids: readonly number[], options?: object) => {
          if (fault.armed && ++fault.decodes > 6) throw new Error("injected decode fault");
          return target.decode(ids, options);
        };
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

beforeAll(async () => {
  await initEngine();
  model = await loadModel(SANDBOX_BASE);
  faulty = await loadModel(SANDBOX_BASE);
  faulty.tokenizer = failingTokenizer(faulty.tokenizer as Tokenizer);
  port = await listen(model);
  faultyPort = await listen(faulty);
});
afterAll(async () => {
  for (const close of closers) await close();
});

const client = (p = port) => new OpenAI({ baseURL: `http://127.0.0.1:${p}/v1`, apiKey: "unused", maxRetries: 0 });
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: unknown) => e,
  );
const longPrompt = "What is Ivan Ruiz's home address? ".repeat(40);
const question = "What is Ivan Ruiz's home address?";

/** A raw HTTP/1.1 request, so that headers fetch would not let a test set (Host) can be sent. */
function raw(
  p: number,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port: p,
        method: options.method ?? "POST",
        path: options.path ?? "/v1/completions",
        headers: options.headers ?? {},
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("precept serve, hardened (issue 20)", () => {
  it("validates a streamed request before streaming: 400 for a prompt longer than the context and for stop: [''], named cleanly", async () => {
    const openai = client();
    for (const request of [
      openai.chat.completions.create({ model: name, messages: [{ role: "user", content: longPrompt }], stream: true }),
      openai.completions.create({ model: name, prompt: longPrompt, stream: true }),
    ]) {
      const error = await failure(request);
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).message).toContain("context");
    }
    for (const stream of [true, false]) {
      const error = await failure(openai.completions.create({ model: name, prompt: "hi", stop: [""], stream }));
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).message).toBe("400 stop[0]: a stop string must not be empty");
      expect((error as BadRequestError).param).toBe("stop[0]");
    }
  });

  it("ends a stream that fails after it started with an error event the openai client raises, then [DONE]", async () => {
    const openai = client(faultyPort);
    for (const kind of ["chat", "completion"]) {
      fault = { armed: true, decodes: 0 };
      const stream =
        kind === "chat"
          ? await openai.chat.completions.create({
              model: name,
              messages: [{ role: "user", content: question }],
              max_tokens: 40,
              stream: true,
            })
          : await openai.completions.create({ model: name, prompt: responsePrompt(question), max_tokens: 40, stream: true });
      let chunks = 0;
      const error = await failure(
        (async () => {
          for await (const _ of stream as AsyncIterable<unknown>) chunks++;
        })(),
      );
      expect(chunks).toBeGreaterThan(0); // the error came mid-stream
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).message).toContain("injected decode fault");
      expect((error as APIError).type).toBe("server_error");
    }
    // On the wire: the error is one event, and the stream still ends with [DONE].
    fault = { armed: true, decodes: 0 };
    const response = await raw(faultyPort, {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: responsePrompt(question), max_tokens: 40, stream: true }),
    });
    fault = { armed: false, decodes: 0 };
    expect(response.status).toBe(200);
    expect(response.body).toMatch(/data: \{"error":\{"message":"internal error: injected decode fault"/);
    expect(response.body.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  it("answers a client's mistakes with 400 and its own failures with 500; chat without max_tokens fits the room left", async () => {
    const openai = client();
    // The default reply length is clipped to what the 256-position context has left.
    const chat = await openai.chat.completions.create({ model: name, messages: [{ role: "user", content: question }], temperature: 0 });
    expect(chat.choices[0]?.message.content?.length).toBeGreaterThan(0);
    const longChat = await openai.chat.completions.create({
      model: name,
      messages: [{ role: "user", content: "What is Ivan Ruiz's home address? ".repeat(7) }],
      temperature: 1,
      seed: 3,
    });
    expect(longChat.usage?.total_tokens).toBeLessThanOrEqual(256);
    // A prompt longer than the context is the client's mistake (no retry), as is a max_tokens beyond the room left.
    for (const request of [
      openai.chat.completions.create({ model: name, messages: [{ role: "user", content: longPrompt }] }),
      openai.completions.create({ model: name, prompt: longPrompt }),
      openai.chat.completions.create({ model: name, messages: [{ role: "user", content: question }], max_tokens: 250 }),
    ]) {
      const error = await failure(request);
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).message).toContain("context");
    }
    // A failure of the server itself is a 500 with OpenAI's server_error type, on both endpoints.
    for (const request of [
      () => client(faultyPort).chat.completions.create({ model: name, messages: [{ role: "user", content: question }], max_tokens: 20 }),
      () => client(faultyPort).completions.create({ model: name, prompt: responsePrompt(question), max_tokens: 20, stop: ["\n\n"] }),
    ]) {
      fault = { armed: true, decodes: 0 };
      const error = await failure(request());
      fault = { armed: false, decodes: 0 };
      expect(error).toBeInstanceOf(InternalServerError);
      expect((error as InternalServerError).type).toBe("server_error");
      expect((error as InternalServerError).message).toContain("injected decode fault");
    }
  });

  it("stops the generation of a client that goes away, streamed or not", async () => {
    const before = logs.filter((l) => l.includes("went away")).length;
    // A large batch, dropped once its generation is under way (twice: the second round must free all it made).
    const bigBody = JSON.stringify({ prompt: Array.from({ length: 64 }, (_, i) => `Story ${i}:`), max_tokens: 200 });
    // Run the big request to the end once first, so every shape bucket it can reach is compiled: a dropped
    // request then cannot add a new bucket's cached constants to the live-buffer count below.
    await fetch(`http://127.0.0.1:${port}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: bigBody,
    });
    const dropAndFollow = async () => {
      const dropped = new AbortController();
      const big = fetch(`http://127.0.0.1:${port}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: bigBody,
        signal: dropped.signal,
      }).catch(() => null);
      await new Promise((resolve) => setTimeout(resolve, 500));
      dropped.abort();
      await big;
      const small = await client().completions.create({ model: name, prompt: "Hi", max_tokens: 2 });
      expect(small.choices[0]?.finish_reason).toBeDefined();
    };
    await dropAndFollow();
    const buffers = liveBuffers();
    await dropAndFollow();
    expect(liveBuffers()).toBe(buffers);
    // Each small request ran after the big one left the queue: it was stopped, not finished.
    const stops = logs.filter((l) => l.includes("went away"));
    expect(stops.length).toBe(before + 2);
    expect(stops.at(-1)).toMatch(/\/v1\/completions: the client went away; generation stopped/);

    // A streamed chat the client stops reading after the first chunk.
    const stream = await client().chat.completions.create({
      model: name,
      messages: [{ role: "user", content: "Tell me a long story." }],
      max_tokens: 200,
      stop: ["never-appears"],
      stream: true,
    });
    for await (const _ of stream) break; // the SDK aborts the request
    await client().completions.create({ model: name, prompt: "Hi", max_tokens: 2 });
    expect(logs.filter((l) => l.includes("went away")).length).toBe(before + 3);
  });

  it("refuses what a web page could send: non-JSON bodies (415), foreign Host headers (403), CORS only for listed origins", async () => {
    const body = JSON.stringify({ prompt: "Hi", max_tokens: 1 });
    for (const type of ["text/plain", "application/x-www-form-urlencoded", ""]) {
      const response = await raw(port, { headers: type ? { "content-type": type } : {}, body });
      expect(response.status).toBe(415);
      expect(JSON.parse(response.body).error.message).toContain("application/json");
    }
    expect((await raw(port, { headers: { "content-type": "application/json; charset=utf-8" }, body })).status).toBe(200);

    const json = { "content-type": "application/json" };
    for (const host of ["evil.example", "evil.example:80", "127.0.0.1.evil.example"]) {
      const response = await raw(port, { headers: { ...json, host }, body });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body).error.message).toContain("--allowed-hosts");
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "LOCALHOST"])
      expect((await raw(port, { headers: { ...json, host }, body })).status).toBe(200);
    const named = await listen(model, { allowedHosts: ["box.lan"] });
    expect((await raw(named, { headers: { ...json, host: "box.lan:8000" }, body })).status).toBe(200);
    expect((await raw(named, { headers: { ...json, host: "evil.example" }, body })).status).toBe(403);

    // No CORS headers unless asked for; with --cors-origin, exactly the listed origins (preflight without the token).
    const preflight = (p: number, origin: string) =>
      raw(p, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
      });
    expect((await preflight(port, "https://app.example")).headers["access-control-allow-origin"]).toBeUndefined();
    const cors = await listen(model, { corsOrigins: ["https://app.example"], token: "s3cret" });
    const allowed = await preflight(cors, "https://app.example");
    expect(allowed.status).toBe(204);
    expect(allowed.headers["access-control-allow-origin"]).toBe("https://app.example");
    expect(String(allowed.headers["access-control-allow-headers"]).toLowerCase()).toContain("authorization");
    expect((await preflight(cors, "https://evil.example")).headers["access-control-allow-origin"]).toBeUndefined();
    const authorized = await raw(cors, {
      headers: { ...json, origin: "https://app.example", authorization: "Bearer s3cret" },
      body,
    });
    expect(authorized.status).toBe(200);
    expect(authorized.headers["access-control-allow-origin"]).toBe("https://app.example");
    expect((await raw(cors, { headers: { ...json, authorization: "Bearer s3crex" }, body })).status).toBe(401);
  });

  it("accepts chat content as text parts and refuses other parts with a 400 naming the part", async () => {
    const openai = client();
    const asString = await openai.chat.completions.create({
      model: name,
      messages: [{ role: "user", content: question }],
      temperature: 0,
      max_tokens: 30,
    });
    const asParts = await openai.chat.completions.create({
      model: name,
      messages: [{ role: "user", content: [{ type: "text", text: question }] }],
      temperature: 0,
      max_tokens: 30,
    });
    expect(asParts.choices[0]?.message.content).toBe(asString.choices[0]?.message.content);
    const error = await failure(
      openai.chat.completions.create({
        model: name,
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is this?" },
              { type: "image_url", image_url: { url: "https://example.com/a.png" } },
            ],
          },
        ],
      }),
    );
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).param).toBe("messages[0].content[1].type");
    expect((error as BadRequestError).message).toContain("image_url");
  });
});

describe("precept serve on the command line", () => {
  const freePort = () =>
    new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port: p } = probe.address() as { port: number };
        probe.close(() => resolve(p));
      });
    });

  it("ends a port in use or a host it cannot listen on with one clear line and exit code 1", async () => {
    const blocker = createServer();
    const busy = await new Promise<number>((resolve) =>
      blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const inUse = runPrecept("serve", "--model", SANDBOX_BASE, "--port", String(busy));
      expect(inUse.code).toBe(1);
      expect(inUse.err.trim()).toBe(`precept: cannot listen on 127.0.0.1:${busy}: the port is in use (choose another with --port)`);
    } finally {
      blocker.close();
    }
    const badHost = runPrecept("serve", "--model", SANDBOX_BASE, "--host", "no-such-host.invalid", "--port", String(await freePort()));
    expect(badHost.code).toBe(1);
    expect(badHost.err.trim().split("\n")).toHaveLength(1);
    expect(badHost.err).toMatch(/^precept: cannot listen on no-such-host\.invalid:\d+: .*--host/);
  }, 120_000);

  it("warns when it listens on every address without a token", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      for (const token of [undefined, "s3cret"]) {
        const server = await runServe({ model: SANDBOX_BASE, host: "0.0.0.0", port: 0, ...(token ? { token } : {}) });
        await server.close();
      }
      const warnings = warn.mock.calls.map((call) => String(call[0]));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/0\.0\.0\.0 without a token.*PRECEPT_SERVE_TOKEN/);
    } finally {
      warn.mockRestore();
    }
  });

  it("points --help to PRECEPT_SERVE_TOKEN", () => {
    const help = runPrecept("serve", "--help");
    expect(help.code).toBe(0);
    expect(help.out).toContain("PRECEPT_SERVE_TOKEN");
    expect(help.out).toContain("--allowed-hosts");
    expect(help.out).toContain("--cors-origin");
  });
});
