/**
 * What the model layer needs to know about an architecture. Each
 * architecture file (gpt2.ts, llama.ts) exports one of these; `loadModel`
 * picks it by `model_type` from config.json.
 */
import type { z } from "zod";
import type { Array as JaxArray } from "../engine/jax.js";
import type { Rng } from "../engine/rng.js";
import type { ParamTree } from "../engine/tree.js";
import type { ForwardInput, LayerCache } from "./attention.js";
import type { LoraRuntime } from "./lora.js";

/**
 * The forward pass (without a cache) in pieces, so that training can run and
 * differentiate one block at a time (train/staged.ts). Every piece reads its
 * parameters (adding references) and consumes x and the input arrays; the
 * context arrays are kept (the caller disposes them).
 */
export type Stages = {
  blocks: number;
  /** Where block i's weights sit in the tree, e.g. ["model", "layers", "3"]. */
  blockPath(i: number): string[];
  /** Embedded tokens x [B, T, D] and what each block reads (position tables, the attention mask). */
  embed(params: ParamTree, input: ForwardInput): { x: JaxArray; context: JaxArray[] };
  block(block: ParamTree, x: JaxArray, context: JaxArray[], lora: LoraRuntime | undefined): JaxArray;
  /** The final norm: hidden states [B, T, D]. */
  final(params: ParamTree, x: JaxArray): JaxArray;
};

/** The sizes every caller needs, whatever the architecture calls them in config.json. */
export type ModelDims = {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
};

export interface Architecture<C extends { model_type: string } = { model_type: string }> {
  /** `model_type` values in config.json that this architecture loads. */
  readonly modelTypes: readonly string[];
  readonly configSchema: z.ZodType<C>;
  dims(config: C): ModelDims;
  /** Fresh random parameters with Hugging Face names. */
  init(config: C, rng: Rng): ParamTree;
  /** Every tensor a checkpoint must hold (HF names) and its shape. */
  expectedShapes(config: C): Map<string, number[]>;
  /**
   * The name a checkpoint tensor has in Precept's tree, or null for tensors
   * that are not weights (causal-mask buffers, rotary caches, a tied head).
   */
  canonicalName(name: string, config: C): string | null;
  /** Final hidden states [B, T, hidden] after the last norm, and the new cache. Consumes `params`. */
  forward(params: ParamTree, config: C, input: ForwardInput): { hidden: JaxArray; cache: LayerCache[] | null };
  stages(config: C): Stages;
  /** The LM head weight [vocab, hidden] with a reference added (the embedding when tied). */
  lmHeadWeight(params: ParamTree, config: C): JaxArray;
}
