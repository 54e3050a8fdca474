import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { AnthropicProvider } from "./anthropic.js";
import { openProvider } from "./open.js";
import { NotSupportedError } from "./provider.js";

/** A loopback stand-in for the Messages API that records what it was sent. */
async function messagesServer() {
  const seen: { headers: Record<string, unknown>; body: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    let data = "";
    req.on("data", (d) => (data += d));
    req.on("end", () => {
      seen.push({ headers: req.headers, body: JSON.parse(data) });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          content: [
            { type: "text", text: "Hello" },
            { type: "text", text: " there" },
          ],
          stop_reason: "end_turn",
          usage: { input_tokens: 11, output_tokens: 2 },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`,
    seen,
    close: () => new Promise((r) => server.close(r)),
  };
}

describe("the Anthropic provider", () => {
  it("sends the system prompt apart, the key and API version as headers, and reads text blocks and usage", async () => {
    const server = await messagesServer();
    const provider = new AnthropicProvider({
      model: "claude-test",
      baseUrl: server.url,
      apiKey: "k",
      pricing: { inputPerMTok: 3, outputPerMTok: 15 },
    });
    const [reply] = await provider.chat(
      [
        [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hi" },
        ],
      ],
      { maxTokens: 50, temperature: 0 },
    );
    expect(reply).toEqual({ text: "Hello there", finishReason: "stop", usage: { promptTokens: 11, completionTokens: 2 } });
    expect(server.seen[0]?.body).toEqual({
      model: "claude-test",
      max_tokens: 50,
      messages: [{ role: "user", content: "Hi" }],
      system: "Be brief.",
      temperature: 0,
    });
    expect(server.seen[0]?.headers).toMatchObject({ "x-api-key": "k", "anthropic-version": "2023-06-01" });
    expect(provider.usage).toMatchObject({ promptTokens: 11, completionTokens: 2 });
    expect(provider.usage.costUsd).toBeCloseTo((11 * 3 + 2 * 15) / 1e6, 12);
    await expect(provider.logprobs()).rejects.toThrow(NotSupportedError);
    await server.close();
  });
});

describe("provider ids", () => {
  it("open the right backend and reject unknown schemes", async () => {
    expect((await openProvider("openai:gpt-4o-mini")).id).toBe("openai:gpt-4o-mini");
    expect((await openProvider("anthropic:claude-x")).id).toBe("anthropic:claude-x");
    await expect(openProvider("mystery:model")).rejects.toThrow(/unknown provider id "mystery:model"/);
    await expect(openProvider("local:/no/such/dir")).rejects.toThrow(/does not exist/);
  });
});
