/**
 * Coalesces concurrent `generate`/`chat` calls into one batched call. The CAI
 * pipelines process each item on its own (so one item's failure does not sink
 * the others), yet a local model is many times faster decoding a batch than
 * one sequence after another: calls made in the same turn of the event loop
 * with the same sampling parameters go to the backend together. Each
 * caller's seed travels with its own rows (`SamplingParams.seeds`), so what a
 * call samples, and the seed stored with it, do not depend on which calls it
 * was batched with.
 */
import { type ChatMessage, type Completion, type Provider, rowSeeds, type SamplingParams } from "./provider.js";

type Pending<T> = { inputs: T[]; params: SamplingParams; resolve: (c: Completion[]) => void; reject: (e: unknown) => void };

class Coalescer<T> {
  readonly #queues = new Map<string, Pending<T>[]>();
  constructor(
    readonly maxBatch: number,
    readonly call: (inputs: T[], params: SamplingParams) => Promise<Completion[]>,
  ) {}

  submit(inputs: T[], params: SamplingParams): Promise<Completion[]> {
    return new Promise((resolve, reject) => {
      const { seed: _seed, seeds: _seeds, ...shape } = params;
      const key = JSON.stringify(shape);
      let queue = this.#queues.get(key);
      if (!queue) {
        queue = [];
        this.#queues.set(key, queue);
        setImmediate(() => this.#flush(key));
      }
      queue.push({ inputs, params, resolve, reject });
    });
  }

  #flush(key: string): void {
    const queue = this.#queues.get(key) ?? [];
    this.#queues.delete(key);
    // Split into backend calls of at most maxBatch inputs, keeping each caller's inputs together.
    let group: Pending<T>[] = [];
    let size = 0;
    for (const pending of queue) {
      if (size > 0 && size + pending.inputs.length > this.maxBatch) {
        void this.#run(group);
        group = [];
        size = 0;
      }
      group.push(pending);
      size += pending.inputs.length;
    }
    if (group.length > 0) void this.#run(group);
  }

  async #run(group: Pending<T>[]): Promise<void> {
    try {
      const { seed: _seed, ...shared } = (group[0] as Pending<T>).params;
      const seeds = group.flatMap((p) => p.params.seeds ?? rowSeeds(p.params.seed ?? 0, p.inputs.length));
      const outputs = await this.call(
        group.flatMap((p) => p.inputs),
        { ...shared, seeds },
      );
      let at = 0;
      for (const p of group) {
        p.resolve(outputs.slice(at, at + p.inputs.length));
        at += p.inputs.length;
      }
    } catch (error) {
      // One caller's bad input (a prompt too long for the model) must not fail the others: alone, each
      // caller gets its own outcome (per-row seeds make a row's sample the same alone or batched).
      if (group.length > 1) await Promise.all(group.map((p) => this.#run([p])));
      else for (const p of group) p.reject(error);
    }
  }
}

export class BatchingProvider implements Provider {
  readonly id: string;
  readonly #generate: Coalescer<string>;
  readonly #chat: Coalescer<ChatMessage[]>;

  constructor(
    readonly inner: Provider,
    maxBatch = 16,
  ) {
    this.id = inner.id;
    this.#generate = new Coalescer(maxBatch, (prompts, params) => inner.generate(prompts, params));
    this.#chat = new Coalescer(maxBatch, (conversations, params) => inner.chat(conversations, params));
  }

  generate(prompts: string[], params: SamplingParams = {}): Promise<Completion[]> {
    return this.#generate.submit(prompts, params);
  }

  chat(conversations: ChatMessage[][], params: SamplingParams = {}): Promise<Completion[]> {
    return this.#chat.submit(conversations, params);
  }

  logprobs(prompt: string, completions: string[]): Promise<number[]> {
    return this.inner.logprobs(prompt, completions);
  }

  close(): void {
    this.inner.close?.();
  }
}
