/**
 * The model's response to a user's prompt, as a benchmark asks it: through
 * the chat format when the model has one (every chat model, the sandbox
 * model's Human/Assistant template), else as a `Human: … Assistant:`
 * transcript continued by plain completion (a base model without a template,
 * e.g. stories260K). Greedy by default, so a rerun gives the same response.
 */
import type { Provider } from "../providers/provider.js";
import { localModel } from "./scoring.js";

export type ResponseFormat = "auto" | "chat" | "text";

export type RespondOptions = { maxTokens: number; seed: number; temperature?: number; format?: ResponseFormat };

const HUMAN_TURN = "\n\nHuman:";

/** The format a provider is asked in: a local model without a chat template gets a text transcript, anything else chat. */
export function responseFormat(provider: Provider, format: ResponseFormat = "auto"): "chat" | "text" {
  if (format !== "auto") return format;
  const model = localModel(provider);
  return model && !model.tokenizer?.chatTemplate ? "text" : "chat";
}

export async function respond(provider: Provider, prompt: string, options: RespondOptions): Promise<string> {
  const params = { maxTokens: options.maxTokens, temperature: options.temperature ?? 0, seed: options.seed };
  if (responseFormat(provider, options.format) === "chat") {
    const [reply] = await provider.chat([[{ role: "user", content: prompt }]], params);
    return (reply?.text ?? "").trim();
  }
  const [reply] = await provider.generate([`${HUMAN_TURN} ${prompt}\n\nAssistant:`], { ...params, stop: [HUMAN_TURN] });
  return (reply?.text ?? "").trim();
}
