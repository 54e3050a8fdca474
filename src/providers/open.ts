/**
 * Provider ids, as configs and the CLI spell them:
 * - `local:DIR` (or just `DIR`) or `hf:Org/Name@rev`: a model loaded into this process;
 * - `llama:DIR` (or `llama:hf:Org/Name`): the same directory run by llama.cpp (optional
 *   `node-llama-cpp`; converted to GGUF once), for generation and scoring without gradients;
 * - `openai:MODEL`: an OpenAI-compatible server (`OPENAI_BASE_URL`, `OPENAI_API_KEY`),
 *   so `openai:qwen2.5` with `OPENAI_BASE_URL=http://localhost:8000/v1` talks to vLLM;
 * - `anthropic:MODEL`: Anthropic (`ANTHROPIC_API_KEY`).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadModel } from "../models/io.js";
import { AnthropicProvider } from "./anthropic.js";
import type { ResponseCache } from "./http.js";
import { LlamaCppProvider } from "./llama.js";
import { LocalProvider } from "./local.js";
import { OpenAiProvider } from "./openai.js";
import type { Provider } from "./provider.js";

export type OpenProviderOptions = {
  cache?: ResponseCache;
  /** Retries of a failed HTTP request (remote providers; default: HttpClient's 5). */
  maxRetries?: number;
};

export async function openProvider(id: string, options: OpenProviderOptions = {}): Promise<Provider> {
  const colon = id.indexOf(":");
  const scheme = colon > 0 ? id.slice(0, colon) : "";
  const rest = id.slice(colon + 1);
  switch (scheme) {
    case "local":
    case "hf":
      return new LocalProvider(await loadModel(id), id);
    case "llama":
      return LlamaCppProvider.open(rest);
    case "openai":
      return new OpenAiProvider({ model: rest, ...options });
    case "anthropic":
      return new AnthropicProvider({ model: rest, ...options });
    default:
      // A model directory given as a plain path (`--policy runs/sl-cai`) means local:DIR.
      if (isModelDir(id)) return new LocalProvider(await loadModel(id), `local:${id}`);
      throw new Error(
        `unknown provider id "${id}": use a model directory, local:DIR, hf:Org/Name, llama:DIR, openai:MODEL or anthropic:MODEL` +
          (existsSync(id) ? ` (${id} exists but has no config.json or adapter_config.json, so it is not a model directory)` : ""),
      );
  }
}

/** A directory holding a Hugging Face model or a PEFT adapter. */
export function isModelDir(path: string): boolean {
  return existsSync(join(path, "config.json")) || existsSync(join(path, "adapter_config.json"));
}
