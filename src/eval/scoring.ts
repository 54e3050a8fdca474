/**
 * Log-prob scoring for the suites that compare continuations (`mc`, `prefs`).
 * A local model is scored exactly, in-process: prompt and continuation are
 * tokenized together (as the trainers do), a prompt too long for the context
 * keeps its last tokens (or the item is skipped), per-token counts give
 * per-token means, and a reward model's score head is read. Concurrent
 * requests are coalesced into one batched forward pass. Any other provider is
 * scored through its `logprobs` call (sums only; the server handles length).
 */
import type { CausalLM } from "../models/model.js";
import { scoreCompletions, scoreSequences } from "../models/score.js";
import { NotSupportedError, type Provider } from "../providers/provider.js";

export type Fit = "left" | "skip";

export type Scored =
  | { skipped: string }
  | {
      /** Summed log-prob of each continuation. */
      logprobs: number[];
      /** Tokens in each continuation (null where the backend does not say). */
      tokens: (number | null)[];
      /** Prompt tokens dropped from the left to fit the context. */
      truncated: number;
    };

/** The in-process model behind a provider (through a batching wrapper), if there is one. */
export function localModel(provider: Provider): CausalLM | null {
  let p: unknown = provider;
  for (let depth = 0; depth < 4 && p; depth++) {
    const model = (p as { model?: unknown }).model;
    if (model && typeof (model as CausalLM).dims === "object" && (model as CausalLM).tokenizer) return model as CausalLM;
    p = (p as { inner?: unknown }).inner;
  }
  return null;
}

const isPrefix = (prefix: number[], whole: number[]) => prefix.length <= whole.length && prefix.every((id, i) => whole[i] === id);

/** Prompt ids and each continuation's ids, tokenized as prompt + continuation (a SentencePiece tokenizer would put a stray "▁" on a continuation encoded alone). */
export function encodeContinuations(model: CausalLM, prompt: string, continuations: string[], eos = false) {
  const tokenizer = model.tokenizer as NonNullable<CausalLM["tokenizer"]>;
  const head = tokenizer.encode(prompt);
  const end = eos && tokenizer.eosTokenIds[0] !== undefined ? [tokenizer.eosTokenIds[0]] : [];
  const rests = continuations.map((c) => {
    const whole = tokenizer.encode(prompt + c);
    return [...(isPrefix(head, whole) ? whole.slice(head.length) : tokenizer.encode(c, { addSpecialTokens: false })), ...end];
  });
  return { prompt: head, continuations: rests };
}

/**
 * Fits prompt + the longest continuation into `maxPositions`: unchanged when it fits; else
 * the prompt's first tokens are dropped (a leading BOS is kept) with `fit: "left"`, or a skip reason.
 */
export function fitContext(
  prompt: number[],
  continuations: number[][],
  maxPositions: number,
  fit: Fit,
  bos: number | null,
): { prompt: number[]; truncated: number } | { skipped: string } {
  const longest = Math.max(0, ...continuations.map((c) => c.length));
  if (prompt.length + longest <= maxPositions) return { prompt, truncated: 0 };
  if (fit === "skip") return { skipped: `prompt and continuation longer than the model's ${maxPositions} positions` };
  const keepBos = bos !== null && prompt[0] === bos ? 1 : 0;
  const room = maxPositions - longest - keepBos;
  if (room < 1) return { skipped: `a continuation alone fills the model's ${maxPositions} positions` };
  const kept = [...prompt.slice(0, keepBos), ...prompt.slice(prompt.length - room)];
  return { prompt: kept, truncated: prompt.length - kept.length };
}

const locks = new WeakMap<CausalLM, Promise<unknown>>();

/** Runs `fn` when no other forward pass of this model started here is in flight (passes are awaited, and not re-entrant). */
export function exclusive<T>(model: CausalLM, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(model) ?? Promise.resolve();
  const next = previous.then(fn, fn);
  locks.set(
    model,
    next.catch(() => {}),
  );
  return next;
}

type Job = { prompt: number[]; completion: number[]; resolve: (lp: Float32Array) => void; reject: (e: unknown) => void };

/** Score requests made in the same turn of the event loop go to the model as one batch (at most `maxRows` rows). */
class ScoreBatcher {
  #queue: Job[] = [];
  constructor(
    readonly model: CausalLM,
    readonly maxRows = 16,
  ) {}

  score(prompt: number[], completion: number[]): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      if (this.#queue.length === 0) setImmediate(() => this.#flush());
      this.#queue.push({ prompt, completion, resolve, reject });
    });
  }

  #flush(): void {
    const jobs = this.#queue;
    this.#queue = [];
    for (let i = 0; i < jobs.length; i += this.maxRows) {
      const chunk = jobs.slice(i, i + this.maxRows);
      void exclusive(this.model, async () => {
        try {
          const out = await scoreCompletions(
            this.model,
            chunk.map((j) => j.prompt),
            chunk.map((j) => j.completion),
          );
          for (const [k, j] of chunk.entries()) j.resolve(out[k] as Float32Array);
        } catch (error) {
          for (const j of chunk) j.reject(error);
        }
      });
    }
  }
}

const batchers = new WeakMap<CausalLM, ScoreBatcher>();

/** Per-token log-probs of each completion after its prompt (ids), batched with concurrent requests. */
export function scoreIds(model: CausalLM, prompt: number[], completions: number[][]): Promise<Float32Array[]> {
  let batcher = batchers.get(model);
  if (!batcher) {
    batcher = new ScoreBatcher(model);
    batchers.set(model, batcher);
  }
  const b = batcher;
  return Promise.all(completions.map((c) => b.score(prompt, c)));
}

const sum = (xs: Float32Array) => xs.reduce((a, b) => a + b, 0);

/** Log-prob of each string continuation after `prompt`, on a local model (exact, fitted to the context) or any provider's `logprobs`. */
export async function scoreContinuations(provider: Provider, prompt: string, continuations: string[], fit: Fit = "left"): Promise<Scored> {
  const model = localModel(provider);
  if (!model) {
    const logprobs = await provider.logprobs(prompt, continuations);
    return { logprobs, tokens: continuations.map(() => null), truncated: 0 };
  }
  const encoded = encodeContinuations(model, prompt, continuations);
  const fitted = fitContext(encoded.prompt, encoded.continuations, model.dims.maxPositions, fit, model.tokenizer?.bosTokenId ?? null);
  if ("skipped" in fitted) return fitted;
  const scored = await scoreIds(model, fitted.prompt, encoded.continuations);
  return { logprobs: scored.map(sum), tokens: encoded.continuations.map((c) => c.length), truncated: fitted.truncated };
}

/** Whether a provider can score continuations at all: a clear error up front rather than one per item. */
export async function requireLogprobs(provider: Provider, suite: string): Promise<void> {
  if (localModel(provider)) return;
  try {
    await provider.logprobs("Hello", [" world"]);
  } catch (error) {
    if (error instanceof NotSupportedError || (error as Error).name === "NotSupportedError")
      throw new Error(
        `the ${suite} suite compares log-probs of continuations, and the provider ${provider.id} cannot return them (${(error as Error).message}); use a local model (local:DIR, hf:…) or an OpenAI-compatible server with completion log-probs (precept serve, vLLM)`,
      );
    throw error;
  }
}

/** A reward model's score of whole sequences (ids), one forward pass at a time. */
export async function rewardOf(model: CausalLM, rows: number[][]): Promise<number[]> {
  return exclusive(model, () => scoreSequences(model, rows));
}
