/**
 * A causal language model: an architecture, its config, its parameters and
 * (usually) its tokenizer, with optional scalar heads:
 * - `score.weight` [1, hidden]: a reward head read at the last real token,
 *   named as `AutoModelForSequenceClassification` (num_labels = 1) names it;
 * - `v_head.summary.weight` [1, hidden] and `.bias` [1]: a per-token value head,
 *   named as TRL's `AutoModelForCausalLMWithValueHead` names it.
 *
 * The functions here are pure over a parameter tree so trainers can
 * differentiate them; the `CausalLM` methods are conveniences over them.
 */
import { withEagerJit } from "../engine/eager-jit.js";
import { type Array as JaxArray, jit, numpy as np } from "../engine/jax.js";
import { readFloats } from "../engine/ownership.js";
import type { Rng } from "../engine/rng.js";
import { disposeTree, flattenNamed, normalInit, type ParamTree, treeRef, unflattenNamed } from "../engine/tree.js";
import type { Architecture, ModelDims } from "./architecture.js";
import type { ForwardInput, LayerCache } from "./attention.js";
import { batchArrays, padBatch } from "./batch.js";
import { gpt2 } from "./gpt2.js";
import { llama } from "./llama.js";
import { type LoraConfig, loraScale } from "./lora.js";
import type { Tokenizer } from "./tokenizer.js";

export const ARCHITECTURES: readonly Architecture[] = [gpt2 as unknown as Architecture, llama as unknown as Architecture];

export function architectureFor(modelType: unknown, source = "config.json"): Architecture {
  const arch = ARCHITECTURES.find((a) => a.modelTypes.includes(String(modelType)));
  if (!arch) {
    const known = ARCHITECTURES.flatMap((a) => a.modelTypes).join(", ");
    throw new Error(`${source}: model_type ${JSON.stringify(modelType)} is not supported (supported: ${known})`);
  }
  return arch;
}

/** Validates a config.json object; errors name the file and the field. */
export function parseModelConfig(raw: unknown, source = "config.json"): { arch: Architecture; config: { model_type: string } } {
  if (typeof raw !== "object" || raw === null) throw new Error(`${source}: expected a JSON object`);
  const arch = architectureFor((raw as { model_type?: unknown }).model_type, source);
  const parsed = arch.configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `field "${issue.path.join(".") || "(root)"}": ${issue.message}`);
    throw new Error(`${source}: invalid ${arch.modelTypes[0]} config: ${issues.join("; ")}`);
  }
  return { arch, config: parsed.data };
}

export type ModelParts = { arch: Architecture; config: { model_type: string }; lora?: LoraConfig | null };

/** The model's LoRA scale goes into the forward input unless the caller set it (e.g. with training dropout). */
function withLora(model: ModelParts, input: ForwardInput): ForwardInput {
  if (input.lora || !model.lora) return input;
  return { ...input, lora: { scale: loraScale(model.lora) } };
}

/** Hidden states and new cache; consumes `params` and the input arrays. */
export function hiddenStates(model: ModelParts, params: ParamTree, input: ForwardInput): { hidden: JaxArray; cache: LayerCache[] | null } {
  return model.arch.forward(params, model.config, withLora(model, input));
}

/** LM logits [B, T, vocab] and the new cache; consumes `params` and the input arrays. */
export function lmLogits(model: ModelParts, params: ParamTree, input: ForwardInput): { logits: JaxArray; cache: LayerCache[] | null } {
  const head = model.arch.lmHeadWeight(params, model.config);
  const { hidden, cache } = hiddenStates(model, params, input);
  return { logits: np.matmul(hidden, np.transpose(head)), cache };
}

/** Per-token values [B, T] from the value head; consumes `params` and the input. */
export function valueHead(model: ModelParts, params: ParamTree, input: ForwardInput): JaxArray {
  const head = (params.v_head as ParamTree | undefined)?.summary as ParamTree | undefined;
  if (!head) throw new Error("this model has no value head (v_head.summary); add one with addValueHead");
  const weight = (head.weight as JaxArray).ref;
  const bias = (head.bias as JaxArray).ref;
  const { hidden } = hiddenStates(model, params, input);
  return np.squeeze(np.matmul(hidden, np.transpose(weight)).add(bias), -1);
}

/**
 * One score per sequence [B] from the reward head, read at each row's last
 * real token (`lastIndex` [B] int32, consumed). Consumes `params` and the input.
 */
export function scoreHead(model: ModelParts, params: ParamTree, input: ForwardInput, lastIndex: JaxArray): JaxArray {
  if (!(params.score as ParamTree | undefined)?.weight) throw new Error(NO_SCORE_HEAD);
  const view = treeRef(params);
  const { hidden } = hiddenStates(model, params, input);
  const scores = scoreFromHidden(view, hidden, lastIndex);
  disposeTree(view);
  return scores;
}

const NO_SCORE_HEAD = "this model has no score head (score.weight); add one with addScoreHead";

/** `scoreHead` after the forward pass: reads `params`, consumes the final hidden states [B, T, D] and `lastIndex` [B]. */
export function scoreFromHidden(params: ParamTree, hidden: JaxArray, lastIndex: JaxArray): JaxArray {
  const weight = (params.score as ParamTree | undefined)?.weight as JaxArray | undefined;
  if (!weight) {
    hidden.dispose();
    lastIndex.dispose();
    throw new Error(NO_SCORE_HEAD);
  }
  const length = hidden.shape[1] as number;
  // Select the row's last real token with a one-hot mask (jit- and grad-friendly, unlike a gather).
  const pick = np.equal(np.arange(length).astype(np.int32).reshape([1, length]), lastIndex.reshape([-1, 1])).astype(hidden.dtype);
  const last = hidden.mul(np.expandDims(pick, -1)).sum(1);
  return np.squeeze(np.matmul(last, np.transpose(weight.ref)), -1);
}

/** Input for unpadded sequences [B, T] (training on packed text): every token real, positions 0..T−1. Consumes `ids`. */
export function unpaddedInput(ids: JaxArray, embed: ForwardInput["embed"] = "gather"): ForwardInput {
  const [b, t] = ids.shape as [number, number];
  const positions = np.broadcastTo(np.arange(t).astype(np.int32).reshape([1, t]), [b, t]);
  return { ids, positions, keyMask: np.ones([b, t], { dtype: np.bool }), querySlots: np.arange(t).astype(np.int32), embed };
}

/** A forward input over whole padded rows (no cache): every query sees the keys up to its own column. */
export function batchInput(
  batch: { ids: JaxArray; positions: JaxArray; keyMask: JaxArray },
  embed: ForwardInput["embed"] = "gather",
): ForwardInput {
  const width = batch.ids.shape[1] as number;
  return { ids: batch.ids, positions: batch.positions, keyMask: batch.keyMask, querySlots: np.arange(width).astype(np.int32), embed };
}

/** Input for a forward pass over a whole padded batch without a cache. */
export function fullInput(rows: number[][], padId: number, side: "left" | "right" = "left", length?: number): ForwardInput {
  const batch = padBatch(rows, { side, padId, ...(length ? { length } : {}) });
  const { ids, positions, keyMask } = batchArrays(batch);
  return { ids, positions, keyMask, querySlots: np.arange(batch.length).astype(np.int32) };
}

type LogitsFn = (params: ParamTree, ids: JaxArray, positions: JaxArray, keyMask: JaxArray, querySlots: JaxArray) => JaxArray;
const logitsFns = new WeakMap<object, LogitsFn>();

/** `lmLogits` under jit, one per model (jit itself caches per input shape). */
function jittedLogits(model: ModelParts): LogitsFn {
  let fn = logitsFns.get(model);
  if (!fn) {
    fn = jit(
      (params: ParamTree, ids: JaxArray, positions: JaxArray, keyMask: JaxArray, querySlots: JaxArray) =>
        lmLogits(model, params, { ids, positions, keyMask, querySlots }).logits,
    ) as unknown as LogitsFn;
    logitsFns.set(model, fn);
  }
  return fn;
}

export class CausalLM {
  constructor(
    readonly arch: Architecture,
    readonly config: { model_type: string },
    /** The weights; methods keep them. Replace after a training step (the old tree is then owned by the caller). */
    public params: ParamTree,
    public tokenizer: Tokenizer | null = null,
    /** Where the model was loaded from, for messages. */
    readonly source: string | null = null,
    /** The LoRA adapter settings when the tree holds adapter weights (see lora.ts). */
    public lora: LoraConfig | null = null,
  ) {}

  get dims(): ModelDims {
    return this.arch.dims(this.config);
  }

  get hasScoreHead(): boolean {
    return this.params.score !== undefined;
  }

  get hasValueHead(): boolean {
    return this.params.v_head !== undefined;
  }

  /** The pad id for batching: the tokenizer's pad, else its first EOS, else 0. */
  get padId(): number {
    return this.tokenizer?.padTokenId ?? this.tokenizer?.eosTokenIds[0] ?? 0;
  }

  /** Checks token ids against the vocabulary, naming the row and column of the first bad one. */
  checkIds(rows: number[][]): void {
    if (rows.length === 0) throw new Error("no sequences given");
    const { vocabSize, maxPositions } = this.dims;
    rows.forEach((row, b) => {
      if (row.length === 0) throw new Error(`sequence ${b} is empty`);
      if (row.length > maxPositions)
        throw new Error(`sequence ${b} has ${row.length} tokens, more than the model's ${maxPositions} positions`);
      row.forEach((id, t) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
          throw new Error(`token id ${id} at sequence ${b}, position ${t} is out of range for a vocabulary of ${vocabSize}`);
        }
      });
    });
  }

  /**
   * Logits for equal-length sequences of token ids: `{ shape: [B, T, vocab], data }`.
   * (Batches of different lengths go through `generate` and `scoreCompletions`, which pad.)
   */
  async logits(rows: number[][]): Promise<{ shape: [number, number, number]; data: Float32Array }> {
    this.checkIds(rows);
    const length = rows[0]?.length as number;
    if (rows.some((r) => r.length !== length))
      throw new Error("logits() needs sequences of equal length; use scoreCompletions or generate for ragged batches");
    const { ids, positions, keyMask, querySlots } = fullInput(rows, this.padId);
    // Eagerly: each kernel runs as it is reached and frees its inputs (the 135M shape, 4x64: 240 -> 282-300 tokens/s).
    const logits = withEagerJit(() => jittedLogits(this)(treeRef(this.params), ids, positions, keyMask, querySlots));
    return { shape: [rows.length, length, this.dims.vocabSize], data: await readFloats(logits) };
  }

  /** A second model over the same weights (arrays are shared, not copied: training replaces arrays, it never mutates them). */
  clone(): CausalLM {
    const params = unflattenNamed(flattenNamed(this.params).map(([name, leaf]) => [name, leaf.ref]));
    return new CausalLM(this.arch, this.config, params, this.tokenizer, this.source, this.lora ? { ...this.lora } : null);
  }

  /** Adds a zero-mean reward head (`score.weight`), replacing any existing one. */
  addScoreHead(rng: Rng, std = 1 / Math.sqrt(this.dims.hiddenSize + 1)): void {
    disposeTree(this.params.score as ParamTree | undefined);
    this.params.score = { weight: normalInit(rng, [1, this.dims.hiddenSize], std) };
  }

  /** Adds a per-token value head (`v_head.summary`), replacing any existing one. */
  addValueHead(rng: Rng, std = 1 / Math.sqrt(this.dims.hiddenSize + 1)): void {
    disposeTree(this.params.v_head as ParamTree | undefined);
    this.params.v_head = { summary: { weight: normalInit(rng, [1, this.dims.hiddenSize], std), bias: np.zeros([1]) } };
  }

  dispose(): void {
    disposeTree(this.params);
    this.params = {};
  }
}
