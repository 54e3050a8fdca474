/**
 * The `llama:DIR` provider: a Hugging Face model directory run by llama.cpp
 * (through the optional package `node-llama-cpp`, with its prebuilt
 * binaries), for the passes that need no gradients: generation, chat and
 * scoring with a model that does not change during the pass.
 *
 * The directory is converted to GGUF once per content (`cachedGguf`). Text is
 * tokenized and decoded by Precept's own tokenizer of the directory, and the
 * token ids go to llama.cpp, so `llama:` sees exactly the ids `local:` sees
 * (same chat template, BOS, stop strings, EOS ids). Prompts run on separate
 * sequences of one llama.cpp context, which node-llama-cpp decodes together
 * in one batch; a sequence keeps the tokens it last held, so a prompt that
 * starts like the previous one on that sequence reuses its cached prefix.
 *
 * Sampling is llama.cpp's: greedy at temperature 0, otherwise top-k → top-p →
 * temperature → a draw seeded per row (seed + row). The log-prob of a
 * generated token is that of the distribution it was drawn from (llama.cpp
 * renormalizes after top-k/top-p truncation; without truncation it equals the
 * local provider's log softmax(logits / temperature), temperature 1 for greedy).
 * Scoring log-probs are from the full softmax of the logits.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { ChatMessage } from "../models/chat-template.js";
import { cachedGguf, type GgufDtype } from "../models/gguf.js";
import { resolveModelDir } from "../models/io.js";
import { readJson } from "../models/json.js";
import { parseModelConfig } from "../models/model.js";
import { loadTokenizer, type Tokenizer } from "../models/tokenizer.js";
import type { Completion, Provider, SamplingParams } from "./provider.js";

export const NODE_LLAMA_CPP_VERSION = "3.21.1";

// The parts of node-llama-cpp's API used here, typed locally so Precept builds without the package.
type EvaluateOptions = { temperature: number; topK: number; topP: number; minP: number; seed: number; yieldEogToken: boolean };
type EvaluateOutput = { token: number; confidence?: number; probabilities?: Map<number, number> };
type ControlledItem = number | [number, { generateNext: { probabilities: true } }];
interface NlcSequence {
  readonly nextTokenIndex: number;
  compareContextTokens(tokens: number[]): { firstDifferentIndex: number };
  eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void>;
  evaluateWithMetadata(
    tokens: number[],
    metadata: { confidence: boolean; probabilities: boolean },
    options: EvaluateOptions,
  ): AsyncGenerator<EvaluateOutput, void, void>;
  controlledEvaluate(input: ControlledItem[]): Promise<({ next: { probabilities?: Map<number, number> } } | undefined)[]>;
}
interface NlcContext {
  readonly contextSize: number;
  getSequence(): NlcSequence;
  dispose(): Promise<void>;
}
interface NlcModel {
  createContext(
    options: { contextSize: number; sequences: number; flashAttention?: boolean } & Record<string, unknown>,
  ): Promise<NlcContext>;
  tokenize(text: string, specialTokens?: boolean): number[];
  dispose(): Promise<void>;
}
interface NlcLlama {
  readonly gpu: string | false;
  loadModel(options: { modelPath: string }): Promise<NlcModel>;
}
interface NlcModule {
  getLlama(options: Record<string, unknown>): Promise<NlcLlama>;
}

export class LlamaCppMissingError extends Error {
  constructor(cause?: unknown) {
    super(
      `the llama: provider needs the optional package node-llama-cpp ${NODE_LLAMA_CPP_VERSION} (llama.cpp with prebuilt binaries), which is not installed. ` +
        `Install it with \`npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION}\` (every prebuilt binary for this platform, CUDA and Vulkan ones included: about 390 MB on linux-x64), ` +
        "or, in a Precept checkout, `scripts/install-llama-cpp.sh` (the CPU build only: about 46 MB). Or use local:DIR, the built-in engine.",
      { cause },
    );
    this.name = "LlamaCppMissingError";
  }
}

let nodeLlamaCpp: Promise<NlcModule> | null = null;

/** Imports node-llama-cpp, or throws `LlamaCppMissingError`. */
export function importNodeLlamaCpp(): Promise<NlcModule> {
  nodeLlamaCpp ??= (async () => {
    const name = "node-llama-cpp"; // a variable, so TypeScript does not need the package to build
    try {
      return (await import(name)) as NlcModule;
    } catch (error) {
      nodeLlamaCpp = null;
      const code = (error as { code?: string }).code;
      if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new LlamaCppMissingError(error);
      throw error;
    }
  })();
  return nodeLlamaCpp;
}

/** Whether node-llama-cpp can be imported (tests and benches skip without it). */
export async function hasNodeLlamaCpp(): Promise<boolean> {
  try {
    await importNodeLlamaCpp();
    return true;
  } catch (error) {
    if (error instanceof LlamaCppMissingError) return false;
    throw error;
  }
}

const llamas = new Map<string, Promise<NlcLlama>>();

/**
 * The process's llama.cpp instance. Never builds or downloads llama.cpp: only
 * a prebuilt binary (or an earlier local build) is used, so a missing one is
 * an error rather than a compile at run time.
 */
async function getLlama(gpu: string): Promise<NlcLlama> {
  let found = llamas.get(gpu);
  if (!found) {
    found = (async () => {
      const nlc = await importNodeLlamaCpp();
      // node-llama-cpp's default is at least 4 threads; more threads than cores make llama.cpp's spinning workers crawl.
      const threads = envInt("PRECEPT_THREADS") ?? availableParallelism();
      try {
        return await nlc.getLlama({
          build: "never",
          skipDownload: true,
          usePrebuiltBinaries: true,
          progressLogs: false,
          gpu: gpu === "false" ? false : gpu,
          logLevel: process.env.PRECEPT_LLAMA_LOG ?? "error",
          maxThreads: threads,
        });
      } catch (error) {
        throw new Error(
          `node-llama-cpp found no usable prebuilt llama.cpp binary (gpu: ${gpu}): ${(error as Error).message}. ` +
            `Install the binary package for this platform (e.g. @node-llama-cpp/linux-x64@${NODE_LLAMA_CPP_VERSION}) or set PRECEPT_LLAMA_GPU=false for the CPU build`,
          { cause: error },
        );
      }
    })();
    found.catch(() => llamas.delete(gpu));
    llamas.set(gpu, found);
  }
  return found;
}

export type LlamaCppOptions = {
  /** Weights in the GGUF file (default `PRECEPT_LLAMA_DTYPE` or f32). */
  dtype?: GgufDtype;
  /** Parallel sequences, i.e. the largest batch decoded together (default `PRECEPT_LLAMA_SEQUENCES` or 8). */
  sequences?: number;
  /** Tokens each sequence can hold (default: the model's positions, at most 2048; `PRECEPT_LLAMA_CONTEXT`). */
  contextSize?: number;
  /** "auto" (CUDA, Vulkan or Metal when their binary is installed, else CPU), "cuda", "vulkan", "metal" or "false" (default `PRECEPT_LLAMA_GPU` or auto). */
  gpu?: string;
  /**
   * The KV cache's type: "f16" (llama.cpp's default; log-probs within about 1e-2 of the local provider's) or "f32"
   * (with plain attention; within about 1e-4 on Llama models, 1e-3 on GPT-2, whose GELU llama.cpp reads from an F16 table).
   * Default `PRECEPT_LLAMA_KV_CACHE` or f16.
   */
  kvCache?: "f16" | "f32";
  /**
   * Threads a decode step uses (default `PRECEPT_LLAMA_THREADS`, else one fewer than the cores, at least 1).
   * llama.cpp's workers spin, so beside Node's own threads, and on a busy machine, fewer is faster.
   */
  threads?: number;
  /** Where converted GGUF files are kept (default `PRECEPT_GGUF_CACHE` or ~/.cache/precept/gguf). */
  cacheDir?: string;
};

export type TokenGeneration = {
  tokens: number[];
  text: string;
  logprobs: number[];
  /** With `topLogprobs` k: the k most likely [token, log-prob] pairs at each step. */
  topLogprobs?: [number, number][][];
  finishReason: "eos" | "stop" | "length";
};

export type TokenScores = {
  /** Entry i: log p(ids[from + i] | ids before it). */
  logprobs: number[];
  /** With `topK` k: the k most likely [token, log-prob] pairs at each scored position. */
  top?: [number, number][][];
};

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

/**
 * `PRECEPT_LLAMA_THREADS`, else one core fewer than the machine has (at least 1): llama.cpp's workers
 * spin, and beside Node's own threads on 2 cores, 2 of them decoded the sandbox GPT-2 at 53 tokens/s
 * where 1 did 1,716 (bench/results/llama.json, quiet machine).
 */
export function defaultLlamaThreads(): number {
  return envInt("PRECEPT_LLAMA_THREADS") ?? Math.max(1, availableParallelism() - 1);
}

/** The first k entries of a probability map sorted by probability, as log-probs. */
function topOf(probabilities: Map<number, number> | undefined, k: number): [number, number][] {
  const out: [number, number][] = [];
  if (!probabilities) return out;
  for (const [token, p] of probabilities) {
    if (out.length >= k) break;
    out.push([token, Math.log(p)]);
  }
  return out;
}

/**
 * Makes the context's native sampleToken calls run one at a time.
 *
 * After a decode of several sequences, llama.cpp may hold the batch's logit rows out of order and
 * puts them in order lazily, inside the first llama_get_logits_ith call (output_reorder swaps rows
 * in place). node-llama-cpp reads each sequence's logits in its own libuv worker, concurrently, so
 * two readers can both run that reorder: a row is swapped back or half swapped, and a sequence
 * reads another position's logits (seen once in CI as a scored log-prob off by 16). One reader at
 * a time makes the first do the reorder alone. The cost is small: sampling is a pass over the
 * vocabulary, the decode is the model.
 */
function serializeSampling(context: NlcContext): void {
  // node-llama-cpp 3.21.1's LlamaContext keeps the addon's context object as `_ctx`.
  const native = (context as unknown as { _ctx?: { sampleToken?: (...args: unknown[]) => Promise<unknown> } })._ctx;
  const sampleToken = native?.sampleToken;
  if (!native || typeof sampleToken !== "function")
    throw new Error(`node-llama-cpp's context has no _ctx.sampleToken: Precept expects node-llama-cpp ${NODE_LLAMA_CPP_VERSION}`);
  let last: Promise<unknown> = Promise.resolve();
  // The addon's methods are read-only on its prototype: an own property shadows it.
  Object.defineProperty(native, "sampleToken", {
    value: (...args: unknown[]) => {
      const next = last.then(() => sampleToken.apply(native, args));
      last = next.catch(() => undefined);
      return next;
    },
  });
}

export class LlamaCppProvider implements Provider {
  readonly #free: NlcSequence[];
  readonly #waiting: ((s: NlcSequence) => void)[] = [];

  private constructor(
    readonly id: string,
    readonly dir: string,
    readonly tokenizer: Tokenizer,
    /** Tokens a sequence holds: the model's positions, or fewer when the context was made smaller. */
    readonly maxPositions: number,
    readonly ggufPath: string,
    readonly gpu: string | false,
    private readonly model: NlcModel,
    private readonly context: NlcContext,
    sequences: NlcSequence[],
  ) {
    this.#free = sequences;
  }

  /** Opens `DIR`, `local:DIR` or `hf:Org/Name` with llama.cpp, converting it to GGUF on first use. */
  static async open(source: string, options: LlamaCppOptions = {}): Promise<LlamaCppProvider> {
    const nlc = importNodeLlamaCpp(); // fail fast, before converting, when the package is missing
    await nlc;
    const dir = await resolveModelDir(source);
    if (!existsSync(dir)) throw new Error(`model directory ${dir} does not exist`);
    const configPath = join(dir, "config.json");
    if (!existsSync(configPath)) {
      const adapter = existsSync(join(dir, "adapter_config.json"));
      throw new Error(
        adapter
          ? `${dir} is a LoRA adapter: llama: needs a full model; merge it first (loadModel, mergeLora, saveModel)`
          : `${dir}: no config.json (is this a Hugging Face model directory?)`,
      );
    }
    const dtype = options.dtype ?? (process.env.PRECEPT_LLAMA_DTYPE as GgufDtype | undefined) ?? "f32";
    if (dtype !== "f32" && dtype !== "f16") throw new Error(`GGUF dtype must be f32 or f16, got "${dtype}" (PRECEPT_LLAMA_DTYPE)`);
    const { path } = await cachedGguf(dir, { dtype, ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) });
    const { arch, config } = parseModelConfig(readJson(configPath), configPath);
    const maxPositions = arch.dims(config).maxPositions;
    const tokenizer = await loadTokenizer(dir);
    const sequences = options.sequences ?? envInt("PRECEPT_LLAMA_SEQUENCES") ?? 8;
    const contextSize = Math.min(maxPositions, options.contextSize ?? envInt("PRECEPT_LLAMA_CONTEXT") ?? 2048);
    const llama = await getLlama(options.gpu ?? process.env.PRECEPT_LLAMA_GPU ?? "auto");
    const model = await llama.loadModel({ modelPath: path });
    try {
      const f32 = (options.kvCache ?? process.env.PRECEPT_LLAMA_KV_CACHE ?? "f16") === "f32";
      // An F32 cache needs plain attention: llama.cpp's CPU flash attention rounds to F16 on the way.
      const precision = f32 ? { experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", flashAttention: false } : {};
      const threads = options.threads ?? defaultLlamaThreads();
      const context = await model.createContext({ contextSize, sequences, ...precision, ...(threads ? { threads } : {}) });
      serializeSampling(context);
      const seqs = Array.from({ length: sequences }, () => context.getSequence());
      return new LlamaCppProvider(`llama:${source}`, dir, tokenizer, contextSize, path, llama.gpu, model, context, seqs);
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  /** llama.cpp's own tokenization of `text` with the GGUF's tokenizer (to check the conversion; the provider encodes with Precept's). */
  llamaTokenize(text: string): number[] {
    return this.model.tokenize(text, false);
  }

  async #withSequence<T>(run: (s: NlcSequence) => Promise<T>): Promise<T> {
    const seq = this.#free.pop() ?? (await new Promise<NlcSequence>((resolve) => this.#waiting.push(resolve)));
    try {
      return await run(seq);
    } finally {
      const next = this.#waiting.shift();
      if (next) next(seq);
      else this.#free.push(seq);
    }
  }

  /**
   * Keeps the sequence's cached tokens that `ids` starts with (at most `keepAtMost`) and erases the rest;
   * returns how many were kept (the caller evaluates `ids` from there).
   */
  async #reuse(seq: NlcSequence, ids: number[], keepAtMost: number): Promise<number> {
    const keep = Math.min(seq.compareContextTokens(ids).firstDifferentIndex, keepAtMost, seq.nextTokenIndex);
    if (keep < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    return keep;
  }

  #room(ids: number[][]): number {
    const longest = Math.max(...ids.map((p) => p.length));
    const room = this.maxPositions - longest;
    if (room < 1) throw new Error(`${this.id}: a prompt of ${longest} tokens leaves no room in the model's ${this.maxPositions} positions`);
    return room;
  }

  /**
   * Generates from token-id prompts, one sequence each, decoded together.
   * Options as `generateTokens` (temperature 0 is greedy); EOS ids default to the tokenizer's.
   */
  async generateTokens(
    prompts: number[][],
    options: {
      maxNewTokens?: number;
      temperature?: number;
      topK?: number;
      topP?: number;
      stop?: string[];
      seed?: number;
      topLogprobs?: number;
      eosTokenIds?: number[];
      /** False: leave `text` empty and skip decoding (ids only; stop strings then need it true). */
      decode?: boolean;
      /** Called for each new token of each row as it is sampled (for streaming). */
      onToken?: (row: number, token: number, logprob: number) => void;
      /** Stops generation between tokens once aborted (a server's client went away), throwing an AbortError. */
      signal?: AbortSignal;
    } = {},
  ): Promise<TokenGeneration[]> {
    prompts.forEach((p, i) => {
      if (p.length === 0) throw new Error(`prompt ${i} is empty: a causal LM needs at least one token to condition on (add a BOS token)`);
    });
    const maxNew = options.maxNewTokens ?? 64;
    const longest = Math.max(...prompts.map((p) => p.length));
    if (longest + maxNew > this.maxPositions)
      throw new Error(`prompt of ${longest} tokens + ${maxNew} new tokens exceeds the ${this.maxPositions} positions of ${this.id}`);
    const eos = new Set(options.eosTokenIds ?? this.tokenizer.eosTokenIds);
    const stop = options.stop ?? [];
    const topK = options.topLogprobs ?? 0;
    const sampling = {
      temperature: options.temperature ?? 1,
      // node-llama-cpp truncates to top-k 40 / top-p 0.95 unless told otherwise; Precept's default is no truncation.
      topK: options.topK ?? 0,
      topP: options.topP ?? 1,
      minP: 0,
      yieldEogToken: true,
    };
    return Promise.all(
      prompts.map((ids, row) =>
        this.#withSequence(async (seq) => {
          const result: TokenGeneration = { tokens: [], text: "", logprobs: [], finishReason: "length" };
          if (topK > 0) result.topLogprobs = [];
          const kept = await this.#reuse(seq, ids, ids.length - 1);
          const steps = seq.evaluateWithMetadata(
            ids.slice(kept),
            { confidence: true, probabilities: topK > 0 },
            { ...sampling, seed: (options.seed ?? 0) + row },
          );
          for await (const out of steps) {
            if (options.signal?.aborted) throw new DOMException("generation aborted", "AbortError");
            result.tokens.push(out.token);
            result.logprobs.push(Math.log(out.confidence ?? Number.NaN));
            options.onToken?.(row, out.token, result.logprobs.at(-1) as number);
            if (topK > 0) result.topLogprobs?.push(topOf(out.probabilities, topK));
            if (eos.has(out.token)) {
              result.finishReason = "eos";
              break;
            }
            if (stop.length > 0 && stop.some((s) => this.tokenizer.decode(result.tokens, { skipSpecialTokens: true }).includes(s))) {
              result.finishReason = "stop";
              break;
            }
            if (result.tokens.length >= maxNew) break;
          }
          if (options.decode === false) return result;
          let text = this.tokenizer.decode(result.tokens, { skipSpecialTokens: true });
          for (const s of stop) {
            const at = text.indexOf(s);
            if (at >= 0) text = text.slice(0, at);
          }
          result.text = text;
          return result;
        }),
      ),
    );
  }

  /**
   * Log-probs of `rows[b]` from position `from[b]` on (default 1), each under the full softmax of the
   * logits before it; with `topK`, also the k most likely tokens at each scored position (prompt log-probs).
   */
  async scoreTokens(rows: number[][], options: { from?: number[]; topK?: number } = {}): Promise<TokenScores[]> {
    const topK = options.topK ?? 0;
    return Promise.all(
      rows.map((ids, b) => {
        const from = options.from?.[b] ?? 1;
        if (from < 1) throw new Error(`row ${b}: scoring starts at position 1 or later (the first token has nothing to condition on)`);
        if (ids.length > this.maxPositions)
          throw new Error(`row ${b}: ${ids.length} tokens exceed the ${this.maxPositions} positions of ${this.id}`);
        if (from >= ids.length) return Promise.resolve<TokenScores>(topK > 0 ? { logprobs: [], top: [] } : { logprobs: [] });
        return this.#withSequence(async (seq) => {
          const kept = await this.#reuse(seq, ids, from - 1);
          // Logits are needed after each token from position from−1 up to the second to last.
          const input: ControlledItem[] = ids
            .slice(kept)
            .map((token, j) =>
              kept + j >= from - 1 && kept + j < ids.length - 1 ? [token, { generateNext: { probabilities: true } }] : token,
            );
          const outputs = await seq.controlledEvaluate(input);
          const scores: TokenScores = { logprobs: [] };
          if (topK > 0) scores.top = [];
          for (let t = from; t < ids.length; t++) {
            const probabilities = outputs[t - 1 - kept]?.next.probabilities;
            scores.logprobs.push(Math.log(probabilities?.get(ids[t] as number) ?? 0));
            if (topK > 0) scores.top?.push(topOf(probabilities, topK));
          }
          return scores;
        });
      }),
    );
  }

  async generate(prompts: string[], params: SamplingParams = {}): Promise<Completion[]> {
    return this.#complete(
      prompts.map((p) => this.tokenizer.encode(p)),
      params,
    );
  }

  async chat(conversations: ChatMessage[][], params: SamplingParams = {}): Promise<Completion[]> {
    // As the local provider: the template writes any BOS itself, and a reply also ends at the chat format's stop strings.
    return this.#complete(
      conversations.map((messages) =>
        this.tokenizer.encode(this.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false }),
      ),
      { ...params, stop: [...(params.stop ?? []), ...this.tokenizer.stopStrings] },
    );
  }

  async #complete(ids: number[][], params: SamplingParams): Promise<Completion[]> {
    // Like a server with a context limit, stop early ("length") rather than fail when prompt + max_tokens does not fit.
    const room = this.#room(ids);
    const outputs = await this.generateTokens(ids, {
      maxNewTokens: Math.min(params.maxTokens ?? 64, room),
      temperature: params.temperature ?? 1,
      ...(params.topP !== undefined ? { topP: params.topP } : {}),
      stop: params.stop ?? [],
      seed: params.seed ?? 0,
    });
    return outputs.map((g, i) => ({
      text: g.text,
      finishReason: g.finishReason === "length" ? "length" : "stop",
      tokenLogprobs: g.logprobs,
      usage: { promptTokens: (ids[i] as number[]).length, completionTokens: g.tokens.length },
    }));
  }

  async logprobs(prompt: string, completions: string[]): Promise<number[]> {
    const promptIds = this.tokenizer.encode(prompt);
    const scored = await this.scoreTokens(
      completions.map((c) => [...promptIds, ...this.tokenizer.encode(c, { addSpecialTokens: false })]),
      { from: completions.map(() => promptIds.length) },
    );
    return scored.map((s) => s.logprobs.reduce((a, b) => a + b, 0));
  }

  close(): void {
    void this.context.dispose().then(() => this.model.dispose());
  }

  /** Closes and waits until llama.cpp has freed the model. */
  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}
