/** `precept serve --model DIR`: the OpenAI-compatible API over a local model, on a real socket. */
import { serve } from "@hono/node-server";
import { initEngine } from "../engine/device.js";
import { loadModel } from "../models/io.js";
import { createOpenAiApp } from "../server/openai.js";

export async function runServe(options: {
  model: string;
  host: string;
  port: number;
  token?: string;
  name?: string;
}): Promise<{ close: () => Promise<void>; port: number }> {
  await initEngine();
  const model = await loadModel(options.model);
  const name = options.name ?? options.model.replace(/\/+$/, "").split("/").pop() ?? "model";
  const app = createOpenAiApp({ model, name, ...(options.token ? { token: options.token } : {}) });
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, (info) => {
      console.log(
        `precept serve: ${name} on http://${options.host}:${info.port}/v1 (OpenAI-compatible${options.token ? ", bearer token required" : ""})`,
      );
      if (model.tokenizer?.chatTemplate === null)
        console.log("  the model has no chat template (tokenizer_config.json): /v1/chat/completions answers 400; /v1/completions works");
      resolve({ port: info.port, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}
