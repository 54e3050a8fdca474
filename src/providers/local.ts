/**
 * The in-process provider: a `CausalLM` loaded by Precept, used through the
 * same interface as a remote server. Chat goes through the tokenizer's chat
 * template; log-probs are exact (teacher-forced scoring).
 */
import { generateTokens } from "../models/generate.js";
import type { CausalLM } from "../models/model.js";
import { scoreCompletions } from "../models/score.js";
import type { ChatMessage, Completion, Provider, SamplingParams } from "./provider.js";

export class LocalProvider implements Provider {
  constructor(
    readonly model: CausalLM,
    readonly id = `local:${model.source ?? "model"}`,
  ) {
    if (!model.tokenizer) throw new Error(`${id}: a local provider needs a model with a tokenizer`);
  }

  async generate(prompts: string[], params: SamplingParams = {}): Promise<Completion[]> {
    const tokenizer = this.model.tokenizer as NonNullable<CausalLM["tokenizer"]>;
    return this.#generateIds(
      prompts.map((p) => tokenizer.encode(p)),
      params,
    );
  }

  async #generateIds(ids: number[][], params: SamplingParams): Promise<Completion[]> {
    // Like a server with a context limit, stop early ("length") rather than fail when prompt + max_tokens does not fit.
    const longest = Math.max(...ids.map((p) => p.length));
    const room = this.model.dims.maxPositions - longest;
    if (room < 1)
      throw new Error(`${this.id}: a prompt of ${longest} tokens leaves no room in the model's ${this.model.dims.maxPositions} positions`);
    const outputs = await generateTokens(this.model, ids, {
      maxNewTokens: Math.min(params.maxTokens ?? 64, room),
      temperature: params.temperature ?? 1,
      ...(params.topP !== undefined ? { topP: params.topP } : {}),
      stop: params.stop ?? [],
      seed: params.seed ?? 0,
    });
    return outputs.map((g, i) => ({
      text: g.text ?? "",
      finishReason: g.finishReason === "length" ? "length" : "stop",
      tokenLogprobs: g.logprobs,
      usage: { promptTokens: (ids[i] as number[]).length, completionTokens: g.tokens.length },
    }));
  }

  async chat(conversations: ChatMessage[][], params: SamplingParams = {}): Promise<Completion[]> {
    const tokenizer = this.model.tokenizer as NonNullable<CausalLM["tokenizer"]>;
    // As in `precept serve`: the template writes any BOS itself, and a reply also ends where the chat
    // format ends a turn (the tokenizer's stop strings).
    return this.#generateIds(
      conversations.map((messages) =>
        tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false }),
      ),
      { ...params, stop: [...(params.stop ?? []), ...tokenizer.stopStrings] },
    );
  }

  close(): void {
    this.model.dispose();
  }

  async logprobs(prompt: string, completions: string[]): Promise<number[]> {
    const tokenizer = this.model.tokenizer as NonNullable<CausalLM["tokenizer"]>;
    const promptIds = tokenizer.encode(prompt);
    const scored = await scoreCompletions(
      this.model,
      completions.map(() => promptIds),
      completions.map((c) => tokenizer.encode(c, { addSpecialTokens: false })),
    );
    return scored.map((lp) => lp.reduce((a, b) => a + b, 0));
  }
}
