/**
 * A training step run one block at a time, for models whose whole jitted
 * step would not fit in memory: the forward pass keeps only each block's
 * input ([B, T, D] per block), the loss runs on the last one, and the
 * backward pass recomputes one block at a time and differentiates it against
 * the gradient flowing back (activation checkpointing at block boundaries):
 *
 *   x₀ = embed(ids);  x_{i+1} = block_i(x_i)               (forward, no gradients kept)
 *   loss, ∂loss/∂x_L = valueAndGrad(tail ∘ final)(x_L)
 *   ∂/∂(θ_i, x_i) of Σ block_i(θ_i, x_i) ⊙ ∂loss/∂x_{i+1}   (i = L−1 … 0)
 *   embedding: ∂/∂E of Σ embed_E(ids) ⊙ ∂loss/∂x₀          (when it trains)
 *
 * Memory: the weights, their gradients, one block's activations and the
 * block inputs, whatever the depth; one compiled block serves every layer.
 * Cost: each block's forward runs twice (about a third more arithmetic).
 */
import { grad, type Array as JaxArray, jit, numpy as np, valueAndGrad } from "../engine/jax.js";
import { disposeTree, flattenNamed, type ParamTree, treeRef, unflattenNamed } from "../engine/tree.js";
import type { Stages } from "../models/architecture.js";
import type { ForwardInput } from "../models/attention.js";
import type { LoraRuntime } from "../models/lora.js";
import { loraScale } from "../models/lora.js";
import { batchInput, hiddenStates, type ModelParts } from "../models/model.js";
import type { LossOutput } from "./supervised.js";

/** The arrays of a forward input (jit takes arrays only). */
export type InputArrays = { ids: JaxArray; positions: JaxArray; keyMask: JaxArray; querySlots: JaxArray };

/**
 * The loss after the last block: `params` is a view of every weight (read
 * it, adding references), `hidden` the final hidden states [B, T, D]
 * (consumed), `batch` the device batch (consumed).
 */
export type Tail<B> = (params: ParamTree, hidden: JaxArray, batch: B) => LossOutput;

export type StepFn<B> = (trainable: ParamTree, frozen: ParamTree, batch: B) => [[JaxArray, Record<string, JaxArray>], ParamTree];

type Split = { rest: ParamTree; blocks: ParamTree[] };

/** Splits a tree into the blocks' subtrees and the rest (views: no references added). */
function splitBlocks(tree: ParamTree, stages: Stages): Split {
  const prefixes = Array.from({ length: stages.blocks }, (_, i) => `${stages.blockPath(i).join(".")}.`);
  const blocks: [string, JaxArray][][] = prefixes.map(() => []);
  const rest: [string, JaxArray][] = [];
  for (const [name, leaf] of flattenNamed(tree)) {
    const i = prefixes.findIndex((p) => name.startsWith(p));
    if (i < 0) rest.push([name, leaf]);
    else (blocks[i] as [string, JaxArray][]).push([name.slice((prefixes[i] as string).length), leaf]);
  }
  return { rest: unflattenNamed(rest), blocks: blocks.map((entries) => unflattenNamed(entries)) };
}

function merge(a: ParamTree, b: ParamTree): ParamTree {
  return unflattenNamed([...flattenNamed(a), ...flattenNamed(b)]);
}

/**
 * A step function with the same contract as `jit(valueAndGrad(loss, { hasAux }))`
 * over (trainable, frozen, batch), computed block by block. `inputOf(batch)`
 * gives the forward input's arrays with references added (the batch is
 * still passed whole to the tail); `embeddingTrains`: the embedding is among
 * the trainable weights.
 */
export function stagedStep<B>(
  model: ModelParts,
  tail: Tail<B>,
  inputOf: (batch: B) => InputArrays,
  embeddingTrains: boolean,
): StepFn<B> & { dispose(): void } {
  const stages = model.arch.stages(model.config);
  const lora: LoraRuntime | undefined = model.lora ? { scale: loraScale(model.lora) } : undefined;

  const embedForward = jit((rest: ParamTree, input: InputArrays) => {
    const { x, context } = stages.embed(rest, { ...input, embed: "gather" });
    disposeTree(rest);
    return [x, context];
  });
  const blockForward = jit((block: ParamTree, x: JaxArray, context: JaxArray[]) => {
    const out = stages.block(block, x, context, lora);
    disposeTree(block);
    for (const a of context) a.dispose();
    return out;
  });
  const tailGrad = jit(
    valueAndGrad(
      (diff: { x: JaxArray; rest: ParamTree }, frozenRest: ParamTree, batch: B) => {
        const params = merge(diff.rest, frozenRest);
        const out = tail(params, stages.final(params, diff.x), batch);
        disposeTree(params);
        return [out.loss, out.metrics];
      },
      { hasAux: true },
    ),
  );
  const blockGrad = jit(
    grad((diff: { x: JaxArray; block: ParamTree }, frozenBlock: ParamTree, context: JaxArray[], cotangent: JaxArray) => {
      const block = merge(diff.block, frozenBlock);
      const out = stages.block(block, diff.x, context, lora);
      disposeTree(block);
      for (const a of context) a.dispose();
      return out.mul(cotangent).sum();
    }),
  );
  const embedGrad = jit(
    grad((rest: ParamTree, frozenRest: ParamTree, input: InputArrays, cotangent: JaxArray) => {
      const params = merge(rest, frozenRest);
      const { x, context } = stages.embed(params, { ...input, embed: "onehot" });
      disposeTree(params);
      for (const a of context) a.dispose();
      return x.mul(cotangent).sum();
    }),
  );

  const step = (trainable: ParamTree, frozen: ParamTree, batch: B): [[JaxArray, Record<string, JaxArray>], ParamTree] => {
    const t = splitBlocks(trainable, stages);
    const f = splitBlocks(frozen, stages);
    const all = merge(t.rest, f.rest);
    // Forward: keep each block's input.
    const [x0, context] = embedForward(treeRef(all), inputOf(batch)) as [JaxArray, JaxArray[]];
    const inputs: JaxArray[] = [x0];
    for (let i = 0; i < stages.blocks; i++) {
      const block = merge(t.blocks[i] as ParamTree, f.blocks[i] as ParamTree);
      inputs.push(
        blockForward(
          treeRef(block),
          (inputs[i] as JaxArray).ref,
          context.map((a) => a.ref),
        ) as JaxArray,
      );
    }
    // The tail consumes the batch: the embedding's gradient reads the input from references taken now.
    const embedInput = embeddingTrains ? inputOf(batch) : null;
    // The loss and its gradient with respect to the last block's output and the weights after it.
    const last = inputs.pop() as JaxArray;
    const [[loss, metrics], tailGrads] = tailGrad({ x: last, rest: treeRef(t.rest) }, treeRef(f.rest), batch as never) as unknown as [
      [JaxArray, Record<string, JaxArray>],
      { x: JaxArray; rest: ParamTree },
    ];
    let cotangent = tailGrads.x;
    // Backward, one block at a time.
    const blockGrads: ParamTree[] = [];
    for (let i = stages.blocks - 1; i >= 0; i--) {
      const g = blockGrad(
        { x: inputs[i] as JaxArray, block: treeRef(t.blocks[i] as ParamTree) },
        treeRef(f.blocks[i] as ParamTree),
        context.map((a) => a.ref),
        cotangent,
      ) as unknown as { x: JaxArray; block: ParamTree };
      blockGrads[i] = g.block;
      cotangent = g.x;
    }
    let restGrads = tailGrads.rest;
    if (embedInput) {
      const fromEmbedding = new Map(flattenNamed(embedGrad(treeRef(t.rest), treeRef(f.rest), embedInput, cotangent) as ParamTree));
      restGrads = unflattenNamed(flattenNamed(restGrads).map(([name, g]) => [name, g.add(fromEmbedding.get(name) as JaxArray)]));
    } else {
      cotangent.dispose();
    }
    for (const a of context) a.dispose();
    disposeTree(trainable);
    disposeTree(frozen);
    // The gradients in the trainable tree's layout.
    const entries: [string, JaxArray][] = flattenNamed(restGrads);
    blockGrads.forEach((g, i) => {
      const prefix = stages.blockPath(i).join(".");
      for (const [name, leaf] of flattenNamed(g)) entries.push([`${prefix}.${name}`, leaf]);
    });
    return [[loss, metrics], unflattenNamed(entries)];
  };
  return Object.assign(step, {
    dispose() {
      for (const fn of [embedForward, blockForward, tailGrad, blockGrad, embedGrad]) fn.dispose();
    },
  });
}

/** A batch laid out as padded rows: what the forward input is made of. */
export type RowBatch = { ids: JaxArray; positions: JaxArray; keyMask: JaxArray };

/** The forward input's arrays of a row batch, with references added (the batch keeps its own). */
export function rowInput(batch: RowBatch): InputArrays {
  const width = batch.ids.shape[1] as number;
  return { ids: batch.ids.ref, positions: batch.positions.ref, keyMask: batch.keyMask.ref, querySlots: np.arange(width).astype(np.int32) };
}

/**
 * The training step of a loss written as a tail after the model's forward
 * pass: block by block when `staged` (train/memory.ts `chooseStaged` says
 * whether a whole step fits), otherwise one jitted `valueAndGrad` over the
 * whole model. Both take (trainable, frozen, batch) and give
 * [[loss, metrics], gradients]; `embed` is how the whole step embeds tokens
 * (train/sft.ts `trainingEmbed`).
 */
export function trainingStep<B extends RowBatch>(
  model: ModelParts,
  tail: Tail<B>,
  { staged, embeddingTrains, embed }: { staged: boolean; embeddingTrains: boolean; embed: ForwardInput["embed"] },
): StepFn<B> & { dispose(): void } {
  if (staged) return stagedStep(model, tail, rowInput, embeddingTrains);
  const loss = wholeLoss(model, tail, embed);
  return jit(
    valueAndGrad(
      (trainable: ParamTree, frozen: ParamTree, batch: B) => {
        const out = loss(merge(trainable, frozen), batch);
        return [out.loss, out.metrics];
      },
      { hasAux: true },
    ),
  ) as unknown as StepFn<B> & { dispose(): void };
}

/** The same loss over the whole model at once (one jitted step): the forward pass, then the tail. */
export function wholeLoss<B extends RowBatch>(model: ModelParts, tail: Tail<B>, embed: ForwardInput["embed"]) {
  return (params: ParamTree, batch: B): LossOutput => {
    const view = treeRef(params);
    const { hidden } = hiddenStates(model, params, batchInput(rowInput(batch), embed));
    const out = tail(view, hidden, batch);
    disposeTree(view);
    return out;
  };
}
