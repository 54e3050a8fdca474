/**
 * The in-process provider: a `CausalLM` loaded by Precept, used through the
 * same interface as a remote server. Chat goes through the tokenizer's chat
 * template; log-probs are exact (teacher-forced scoring).
 */
import { generateTokens } from "../models/generate.js";
import type { CausalLM } from "../models/model.js";
import { scoreCompletions } from "../models/score.js";
import {
  type ChatMessage,
  type Completion,
  NotSupportedError,
  type Provider,
  ProviderError,
  rowSeeds,
  type SamplingParams,
} from "./provider.js";

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
    checkSampling(this.id, params, ids.length);
    const seeds = params.seeds ?? rowSeeds(params.seed ?? 0, ids.length);
    // Like a server with a context limit, stop early ("length") rather than fail when prompt + max_tokens does not fit.
    // Each row's budget is its own: rows with the same budget are decoded together, so a long
    // prompt in the batch does not shorten the others (a row's output does not depend on its batch).
    const { maxPositions } = this.model.dims;
    const budgets = ids.map((p) => Math.min(params.maxTokens ?? 64, maxPositions - p.length));
    const tight = budgets.findIndex((b) => b < 1);
    if (tight >= 0)
      throw new ProviderError(
        `${this.id}: a prompt of ${(ids[tight] as number[]).length} tokens leaves no room in the model's ${maxPositions} positions`,
        null,
        false,
      );
    const out: Completion[] = new Array(ids.length);
    for (const budget of new Set(budgets)) {
      const rows = budgets.flatMap((b, i) => (b === budget ? [i] : []));
      const outputs = await generateTokens(
        this.model,
        rows.map((i) => ids[i] as number[]),
        {
          maxNewTokens: budget,
          temperature: params.temperature ?? 1,
          ...(params.topP !== undefined ? { topP: params.topP } : {}),
          stop: params.stop ?? [],
          seeds: rows.map((i) => seeds[i] as number),
        },
      );
      outputs.forEach((g, j) => {
        const i = rows[j] as number;
        out[i] = {
          text: g.text ?? "",
          finishReason: g.finishReason === "length" ? "length" : "stop",
          tokenLogprobs: g.logprobs,
          usage: { promptTokens: (ids[i] as number[]).length, completionTokens: g.tokens.length },
        };
      });
    }
    return out;
  }

  async chat(conversations: ChatMessage[][], params: SamplingParams = {}): Promise<Completion[]> {
    const tokenizer = this.model.tokenizer as NonNullable<CausalLM["tokenizer"]>;
    // Permanent, not a passing fault: running the same command again meets the same model.
    if (!tokenizer.chatTemplate)
      throw new NotSupportedError(
        this.id,
        "chat with a model that has no chat template (set chat_template in its tokenizer_config.json, or use --mode completion)",
      );
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

/** Sampling parameters a local model cannot use, refused up front with the parameter's name (not retryable: the same call fails again). */
function checkSampling(id: string, params: SamplingParams, rows: number): void {
  const bad = (what: string) => new ProviderError(`${id}: ${what}`, null, false);
  const { maxTokens, temperature, topP, seed, seeds, stop } = params;
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens >= 1))
    throw bad(`max_tokens must be a whole number ≥ 1, not ${maxTokens}`);
  if (temperature !== undefined && !(Number.isFinite(temperature) && temperature >= 0))
    throw bad(`temperature must be a number ≥ 0 (0: greedy), not ${temperature}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw bad(`top_p must be in (0, 1], not ${topP}`);
  if (seed !== undefined && !Number.isInteger(seed)) throw bad(`seed must be a whole number, not ${seed}`);
  if (seeds !== undefined && (seeds.length !== rows || !seeds.every(Number.isInteger)))
    throw bad(`seeds must be ${rows} whole number(s), one per input, not ${JSON.stringify(seeds)}`);
  if (stop?.some((s) => s === "")) throw bad("a stop string must not be empty");
}
