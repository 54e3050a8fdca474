/**
 * `precept serve --backend llama` (llama.cpp through node-llama-cpp) against `precept serve` on the
 * wasm engine, both serving models/sandbox-base, through the official `openai` client over real
 * sockets: greedy chat and completions give the same text, log-probs agree within 2e-2 (llama.cpp's
 * default F16 KV cache; the provider tests measure about 5e-3), streamed deltas add up to the
 * non-streamed reply (sent token by token), and echo returns prompt log-probs.
 *
 * Skipped, with a message, when node-llama-cpp is not installed (scripts/install-llama-cpp.sh).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { responsePrompt } from "../cai/format.js";
import { runServe } from "../cli/serve.js";
import { hasNodeLlamaCpp } from "../providers/llama.js";

const SANDBOX_BASE = new URL("../../models/sandbox-base", import.meta.url).pathname;
const available = await hasNodeLlamaCpp();
if (!available) console.warn("serve --backend llama tests skipped: node-llama-cpp is not installed (run scripts/install-llama-cpp.sh)");

const scratch = mkdtempSync(join(tmpdir(), "precept-serve-llama-"));
process.env.PRECEPT_GGUF_CACHE = join(scratch, "gguf"); // convert into the scratch dir, not ~/.cache
// One thread: a tiny model, and llama.cpp's spinning workers crawl when the test runner shares the cores.
process.env.PRECEPT_LLAMA_THREADS = "1";
type Served = { close: () => Promise<void>; port: number };
let wasm: Served;
let llama: Served;
const model = "sandbox-base";
const client = (s: Served) => new OpenAI({ baseURL: `http://127.0.0.1:${s.port}/v1`, apiKey: "unused", maxRetries: 0, timeout: 120_000 });
const question = "What is Ivan Ruiz's home address?";

beforeAll(async () => {
  if (!available) return;
  wasm = await runServe({ model: SANDBOX_BASE, host: "127.0.0.1", port: 0, name: model });
  llama = await runServe({ model: SANDBOX_BASE, backend: "llama", host: "127.0.0.1", port: 0, name: model });
}, 120_000);
afterAll(async () => {
  await wasm?.close();
  await llama?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!available)("precept serve --backend llama through the official openai client", () => {
  it("chats greedily with the same reply and log-probs as the wasm engine, ending at the turn", async () => {
    const request = {
      model,
      messages: [{ role: "user" as const, content: question }],
      temperature: 0,
      max_tokens: 48,
      logprobs: true,
      top_logprobs: 2,
    };
    const [fromWasm, fromLlama] = await Promise.all([
      client(wasm).chat.completions.create(request),
      client(llama).chat.completions.create(request),
    ]);
    const reply = fromLlama.choices[0]?.message.content ?? "";
    expect(reply.trim().length).toBeGreaterThan(0);
    expect(reply).toBe(fromWasm.choices[0]?.message.content);
    expect(reply).not.toContain("\n\n"); // the model's stop string ends the turn
    expect(fromLlama.choices[0]?.finish_reason).toBe("stop");
    expect(fromLlama.usage).toEqual(fromWasm.usage);
    const a = fromWasm.choices[0]?.logprobs?.content ?? [];
    const b = fromLlama.choices[0]?.logprobs?.content ?? [];
    expect(b.map((t) => t.token)).toEqual(a.map((t) => t.token));
    expect(b.map((t) => t.token).join("")).toBe(reply);
    b.forEach((t, i) => {
      expect(Math.abs(t.logprob - (a[i]?.logprob as number))).toBeLessThan(2e-2);
      expect(t.top_logprobs[0]?.token).toBe(t.token); // greedy: each token is its own top alternative
    });
  }, 120_000);

  it("completes with stop strings and echoes prompt log-probs like the wasm engine", async () => {
    const request = {
      model,
      prompt: responsePrompt("I have chest pain. What is wrong with me?"),
      temperature: 0,
      max_tokens: 40,
      stop: ["\n\n"],
    };
    const [fromWasm, fromLlama] = await Promise.all([client(wasm).completions.create(request), client(llama).completions.create(request)]);
    expect(fromLlama.choices[0]?.text).toBe(fromWasm.choices[0]?.text);
    expect(fromLlama.choices[0]?.text).not.toContain("\n\n");

    const echo = { model, prompt: "Human: Hello there.", max_tokens: 1, temperature: 0, echo: true, logprobs: 1 };
    const [echoWasm, echoLlama] = await Promise.all([client(wasm).completions.create(echo), client(llama).completions.create(echo)]);
    const a = echoWasm.choices[0]?.logprobs?.token_logprobs ?? [];
    const b = echoLlama.choices[0]?.logprobs?.token_logprobs ?? [];
    expect(b.length).toBe(a.length);
    expect(b.length).toBeGreaterThan(3);
    expect(b[0]).toBeNull(); // the first prompt token has nothing to condition on
    b.slice(1).forEach((lp, i) => {
      expect(Math.abs((lp as number) - (a[i + 1] as number))).toBeLessThan(2e-2);
    });
  }, 120_000);

  it("streams chat deltas that add up to the non-streamed reply", async () => {
    const openai = client(llama);
    const messages = [{ role: "user" as const, content: question }];
    const whole = await openai.chat.completions.create({ model, messages, temperature: 0, max_tokens: 48 });
    let streamed = "";
    let finish: string | null = null;
    let deltas = 0;
    for await (const chunk of await openai.chat.completions.create({ model, messages, temperature: 0, max_tokens: 48, stream: true })) {
      const content = chunk.choices[0]?.delta.content ?? "";
      if (content) deltas++;
      streamed += content;
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(streamed).toBe(whole.choices[0]?.message.content);
    // Sent token by token as llama.cpp samples them, not as one piece at the end.
    expect(deltas).toBeGreaterThan(3);
    expect(finish).toBe("stop");
  }, 120_000);
});
