/**
 * `precept serve --model DIR`: the OpenAI-compatible API over a local model, on a real socket,
 * run by the wasm engine or (`--backend llama`) by llama.cpp.
 */
import { serve } from "@hono/node-server";
import { initEngine } from "../engine/device.js";
import { loadModel } from "../models/io.js";
import { LlamaCppProvider } from "../providers/llama.js";
import { createOpenAiApp } from "../server/openai.js";
import { llamaEngine, type ServingEngine, wasmEngine } from "../server/serving-engine.js";
import { listenError } from "./listen-error.js";

export const SERVE_BACKENDS = ["wasm", "llama"] as const;
export type ServeBackend = (typeof SERVE_BACKENDS)[number];

/** The model behind the API: loaded into the wasm engine, or converted to GGUF (once) and opened with llama.cpp. */
async function openEngine(model: string, backend: ServeBackend): Promise<ServingEngine> {
  if (backend === "llama") return llamaEngine(await LlamaCppProvider.open(model.replace(/^llama:/, "")));
  await initEngine();
  return wasmEngine(await loadModel(model));
}

/** Addresses that listen on every interface: any machine on the network (or any page, through rebinding) can reach them. */
const EVERY_ADDRESS = new Set(["0.0.0.0", "::", "[::]"]);

export async function runServe(options: {
  model: string;
  /** What runs the model: "wasm" (default, in-process) or "llama" (llama.cpp through the optional node-llama-cpp). */
  backend?: ServeBackend;
  host: string;
  port: number;
  token?: string;
  name?: string;
  /** `Host:` names to answer besides the loopback names and the bound host (`*`: any). */
  allowedHosts?: string[];
  /** Browser origins allowed to call the API (CORS). */
  corsOrigins?: string[];
}): Promise<{ close: () => Promise<void>; port: number }> {
  const backend = options.backend ?? "wasm";
  const engine = await openEngine(options.model, backend);
  const name = options.name ?? options.model.replace(/\/+$/, "").split("/").pop() ?? "model";
  const everywhere = EVERY_ADDRESS.has(options.host);
  const app = createOpenAiApp({
    model: engine,
    name,
    ...(options.token ? { token: options.token } : {}),
    // The bound host is a name clients use; "0.0.0.0" is not one.
    allowedHosts: [...(everywhere ? [] : [options.host]), ...(options.allowedHosts ?? [])],
    corsOrigins: options.corsOrigins ?? [],
  });
  if (everywhere && !options.token)
    console.warn(
      `precept serve: warning: listening on ${options.host} without a token: anyone who can reach this machine can use the model; set PRECEPT_SERVE_TOKEN`,
    );
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, (info) => {
      console.log(
        `precept serve: ${name} on http://${options.host}:${info.port}/v1 (OpenAI-compatible, ${engine.kind}${options.token ? ", bearer token required" : ""})`,
      );
      if (everywhere)
        console.log(
          "  requests must name this machine in their Host header as localhost or 127.0.0.1, or a name given with --allowed-hosts",
        );
      if (engine.tokenizer?.chatTemplate === null)
        console.log("  the model has no chat template (tokenizer_config.json): /v1/chat/completions answers 400; /v1/completions works");
      resolve({
        port: info.port,
        // llama.cpp's model and context are native memory: free them with the server (the wasm model lives with the process).
        close: () =>
          new Promise<void>((done) => server.close(() => done())).then(() => (backend === "llama" ? engine.dispose() : undefined)),
      });
    });
    server.once("error", (err: NodeJS.ErrnoException) => {
      void engine.dispose();
      reject(listenError(err, options.host, options.port));
    });
  });
}
