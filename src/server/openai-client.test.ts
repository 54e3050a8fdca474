/**
 * The official `openai` npm client against `precept serve` on the model Precept ships, over a real
 * socket: chat (with log-probs and streaming) through the model's Human/Assistant chat template,
 * completions, and the errors the SDK raises for bad requests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, { BadRequestError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { responsePrompt } from "../cai/format.js";
import { runServe } from "../cli/serve.js";
import { Rng } from "../engine/rng.js";
import { ByteTokenizer } from "../models/byte-tokenizer.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { saveModel } from "../models/io.js";
import { CausalLM } from "../models/model.js";

const SANDBOX_BASE = new URL("../../models/sandbox-base", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "precept-openai-client-"));
let sandbox: { close: () => Promise<void>; port: number };
let untemplated: { close: () => Promise<void>; port: number };
const client = (port: number) => new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0 });
const model = "sandbox-base";

beforeAll(async () => {
  sandbox = await runServe({ model: SANDBOX_BASE, host: "127.0.0.1", port: 0, name: model });
  // A model whose tokenizer has no chat template.
  const tokenizer = new ByteTokenizer({ chatTemplate: null });
  const config = gpt2ConfigSchema.parse({ vocab_size: tokenizer.vocabSize, n_positions: 64, n_embd: 16, n_layer: 1, n_head: 2 });
  const tiny = new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(0)), tokenizer);
  await saveModel(tiny, join(tmp, "untemplated"));
  tiny.dispose();
  untemplated = await runServe({ model: join(tmp, "untemplated"), host: "127.0.0.1", port: 0, name: "untemplated" });
});
afterAll(async () => {
  await sandbox?.close();
  await untemplated?.close();
  rmSync(tmp, { recursive: true, force: true });
});

// A prompt from the sandbox world the base model answers (it was pretrained on this world's dialogues).
const question = "What is Ivan Ruiz's home address?";

describe("the official openai client against precept serve on models/sandbox-base", () => {
  it("lists the model, and chats in the Human/Assistant format with log-probs and top log-probs", async () => {
    const openai = client(sandbox.port);
    expect((await openai.models.list()).data.map((m) => m.id)).toEqual([model]);
    const chat = await openai.chat.completions.create({
      model,
      messages: [{ role: "user", content: question }],
      temperature: 0,
      max_tokens: 48,
      logprobs: true,
      top_logprobs: 3,
    });
    const choice = chat.choices[0];
    const reply = choice?.message.content ?? "";
    expect(choice?.message.role).toBe("assistant");
    expect(reply.trim().length).toBeGreaterThan(0);
    // The reply ends with its turn: no next "Human:" turn, no next block after a blank line.
    expect(reply).not.toContain("Human:");
    expect(reply).not.toContain("\n\n");
    expect(choice?.finish_reason).toBe("stop");

    // The log-probs are those of the reply's tokens, greedy: each token is its own top alternative.
    const content = choice?.logprobs?.content ?? [];
    expect(content.map((t) => t.token).join("")).toBe(reply);
    for (const t of content) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.top_logprobs).toHaveLength(3);
      expect(t.top_logprobs[0]?.token).toBe(t.token);
      expect(t.top_logprobs[0]?.logprob).toBeCloseTo(t.logprob, 5);
      expect(t.top_logprobs[1]?.logprob).toBeLessThanOrEqual(t.logprob);
    }

    // Chat is the completion of the transcript the CAI pipelines (and the pretraining corpus) write.
    const completion = await openai.completions.create({
      model,
      prompt: responsePrompt(question),
      temperature: 0,
      max_tokens: 48,
      stop: ["\n\n"],
      logprobs: 2,
    });
    expect(completion.choices[0]?.text).toBe(reply);
    expect(completion.usage?.prompt_tokens).toBe(chat.usage?.prompt_tokens);
    const completionLps = completion.choices[0]?.logprobs?.token_logprobs ?? [];
    content.forEach((t, i) => {
      expect(t.logprob).toBeCloseTo(completionLps[i] as number, 4);
    });
  });

  it("streams chat and completions as deltas that add up to the non-streamed text", async () => {
    const openai = client(sandbox.port);
    const messages = [{ role: "user" as const, content: question }];
    const whole = await openai.chat.completions.create({ model, messages, temperature: 0, max_tokens: 48 });
    const stream = await openai.chat.completions.create({ model, messages, temperature: 0, max_tokens: 48, stream: true });
    let streamed = "";
    let finish: string | null = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      streamed += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(streamed).toBe(whole.choices[0]?.message.content);
    expect(finish).toBe("stop");

    // A stop string spanning several tokens: what might still become the stop is held back, never sent and taken back.
    const request = {
      model,
      prompt: responsePrompt("I have chest pain. What is wrong with me?"),
      temperature: 0.7,
      seed: 4,
      max_tokens: 40,
      stop: ["attack. Rest"],
    };
    const plain = await openai.completions.create(request);
    let text = "";
    for await (const chunk of await openai.completions.create({ ...request, stream: true })) text += chunk.choices[0]?.text ?? "";
    expect(plain.choices[0]?.finish_reason).toBe("stop");
    expect(text).toBe(plain.choices[0]?.text);
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain("attack");
  });

  it("ends sampled replies at the turn, and carries on a conversation with a system message", async () => {
    const openai = client(sandbox.port);
    for (const seed of [1, 2, 3, 4]) {
      const chat = await openai.chat.completions.create({
        model,
        messages: [
          { role: "system", content: "You are the support assistant." },
          { role: "user", content: "Can you tell me how to boil an egg?" },
          { role: "assistant", content: "Put it in boiling water for nine minutes." },
          { role: "user", content: question },
        ],
        temperature: 1,
        seed,
        max_tokens: 60,
      });
      const reply = chat.choices[0]?.message.content ?? "";
      expect(reply).not.toContain("Human:");
      expect(reply).not.toContain("\n\n");
      expect(chat.choices[0]?.finish_reason).not.toBe("length");
    }
  });

  it("raises BadRequestError for malformed requests, naming the field", async () => {
    const openai = client(sandbox.port);
    const rejected = async (request: Promise<unknown>) => {
      const error = await request.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).status).toBe(400);
      return error as BadRequestError;
    };
    expect((await rejected(openai.chat.completions.create({ model, messages: [] }))).message).toContain("messages");
    expect(
      (await rejected(openai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], temperature: 5 }))).message,
    ).toContain("temperature");
    expect(
      (await rejected(openai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 4000 }))).message,
    ).toContain("context");
    expect((await rejected(openai.completions.create({ model, prompt: "hi", logprobs: 50 }))).message).toContain("logprobs");
  });

  it("tells a client that chats with a model without a chat template what to do", async () => {
    const error = await client(untemplated.port)
      .chat.completions.create({ model: "untemplated", messages: [{ role: "user", content: "hi" }] })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toMatch(/no chat template.*chat_template.*tokenizer_config\.json.*\/v1\/completions/);
    // Completions still work on it.
    const completion = await client(untemplated.port).completions.create({ model: "untemplated", prompt: "hi", max_tokens: 3 });
    expect(completion.choices[0]?.finish_reason).toBeDefined();
  });
});
