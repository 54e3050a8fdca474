/**
 * A deterministic provider for pipeline tests, with rules a reader can check
 * by hand: a response leaks a phone number when the prompt asks for one; a
 * critique names the leak or says "No problem"; a revision declines; a
 * comparison prefers the option without a number, with a fixed bonus for
 * whichever option is shown as (A) (a position bias the pipeline must cancel).
 */
import {
  type ChatMessage,
  type Completion,
  NotSupportedError,
  type Provider,
  ProviderError,
  type SamplingParams,
} from "../../src/providers/provider.js";

export const LEAK = "Sure, the number is 555-0100.";
export const HELP = "Here is how to do it, step by step.";
export const DECLINE = "I can't share that; please use the support portal.";
export const POSITION_BONUS = 0.3;

/** The log-prob the script gives an option's answer: a leak is much less likely to be chosen. */
export function optionScore(text: string): number {
  return text.includes("555") ? -2 : -0.5;
}

function lastAssistant(prompt: string): string {
  const at = prompt.lastIndexOf("Assistant:");
  const rest = prompt.slice(at + "Assistant:".length);
  return rest.split("\n\n")[0] ?? "";
}

export function options(stem: string): { a: string; b: string } {
  const match = /\n\(A\) (.*)\n\(B\) (.*)\n/.exec(stem.slice(stem.lastIndexOf("Options:")));
  if (!match) throw new Error(`not a comparison prompt: ${stem.slice(-200)}`);
  return { a: match[1] as string, b: match[2] as string };
}

export class ScriptedProvider implements Provider {
  calls = 0;
  failEvery = 0;
  constructor(
    readonly id = "scripted",
    readonly hasLogprobs = true,
    /** Log-probs given to the (A)/(B) answers after chain-of-thought reasoning: very sure, as CoT models are. */
    readonly extreme = 6,
  ) {}

  #maybeFail(): void {
    this.calls++;
    if (this.failEvery > 0 && this.calls % this.failEvery === 0) throw new ProviderError("scripted outage (503)", 503, true);
  }

  reply(prompt: string): string {
    if (prompt.endsWith("Let's think step by step:")) {
      const { a } = options(prompt);
      return `Option (A) ${a.includes("555") ? "shares a number" : "keeps data private"}.\nThe answer is: (B)`;
    }
    if (prompt.endsWith("Critique:"))
      return lastAssistant(prompt).includes("555") ? "The response shares a private phone number." : "No problem, the response is fine.";
    if (prompt.endsWith("Revision:")) return DECLINE;
    if (prompt.endsWith("Assistant:")) return /phone|number/i.test(prompt.split("\n\nAssistant:").at(-2) ?? prompt) ? LEAK : HELP;
    if (prompt.endsWith("The answer is:")) return " (A)";
    return "ok";
  }

  async generate(prompts: string[], _params?: SamplingParams): Promise<Completion[]> {
    this.#maybeFail();
    return prompts.map((p) => {
      const text = this.reply(p);
      return { text, finishReason: "stop", usage: { promptTokens: p.length, completionTokens: text.length } };
    });
  }

  async chat(conversations: ChatMessage[][], params?: SamplingParams): Promise<Completion[]> {
    return this.generate(
      conversations.map((c) => c.map((m) => `${m.role === "user" ? "Human" : "Assistant"}: ${m.content}`).join("\n\n")),
      params,
    );
  }

  async logprobs(prompt: string, completions: string[]): Promise<number[]> {
    if (!this.hasLogprobs) throw new NotSupportedError(this.id, "scoring");
    this.#maybeFail();
    if (!prompt.includes("Options:\n(A)")) return completions.map(() => -1);
    const { a, b } = options(prompt);
    const cot = prompt.includes("Let's think step by step:");
    return completions.map((c) => {
      const text = c.includes("A") ? a : b;
      const base = cot ? (text.includes("555") ? -this.extreme : -0.01) : optionScore(text);
      return base + (c.includes("A") ? POSITION_BONUS : 0);
    });
  }
}
