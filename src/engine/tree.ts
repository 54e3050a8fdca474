/**
 * Parameter trees: nested objects whose leaves are arrays, named the way
 * Hugging Face names tensors (`h.0.attn.c_attn.weight`). Layers are objects
 * keyed "0", "1", ... so that flattening gives HF names directly.
 *
 * Ownership: functions here that take a tree consume it, like jax-js
 * functions do, unless their name says otherwise (`treeRef` adds a reference,
 * `flattenNamed` and `countParams` only look).
 */
import { type Array as JaxArray, numpy as np } from "./jax.js";
import type { Rng } from "./rng.js";

export type ParamTree = { [name: string]: JaxArray | ParamTree };

/** jax-js' `Tracer`, the base class of arrays and of the values `grad`/`jit` pass while tracing (not exported itself). */
const Tracer = Object.getPrototypeOf(np.Array) as abstract new (...args: never[]) => JaxArray;

function isLeaf(value: JaxArray | ParamTree): value is JaxArray {
  return value instanceof Tracer;
}

/** Leaves with dotted names, in insertion order (stable across runs). */
export function flattenNamed(tree: ParamTree, prefix = ""): [string, JaxArray][] {
  const out: [string, JaxArray][] = [];
  for (const [key, value] of Object.entries(tree)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (isLeaf(value)) out.push([name, value]);
    else out.push(...flattenNamed(value, name));
  }
  return out;
}

/** Builds a tree from dotted names (the inverse of `flattenNamed`). */
export function unflattenNamed(entries: Iterable<[string, JaxArray]>): ParamTree {
  const root: ParamTree = {};
  for (const [name, leaf] of entries) {
    const parts = name.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const child = node[part];
      if (child === undefined) node[part] = {};
      else if (isLeaf(child)) throw new Error(`parameter name clash: "${name}" is below a leaf`);
      node = node[part] as ParamTree;
    }
    const last = parts[parts.length - 1] as string;
    if (node[last] !== undefined) throw new Error(`duplicate parameter name "${name}"`);
    node[last] = leaf;
  }
  return root;
}

/** Applies `fn` leaf by leaf to trees of the same structure; `fn` owns its arguments. */
export function mapTree(fn: (leaf: JaxArray, ...rest: JaxArray[]) => JaxArray, tree: ParamTree, ...rest: ParamTree[]): ParamTree {
  const out: ParamTree = {};
  for (const [key, value] of Object.entries(tree)) {
    const others = rest.map((other) => {
      const match = other[key];
      if (match === undefined) throw new Error(`mapTree: trees differ at "${key}"`);
      return match;
    });
    if (isLeaf(value)) out[key] = fn(value, ...(others as JaxArray[]));
    else out[key] = mapTree(fn, value, ...(others as ParamTree[]));
  }
  return out;
}

/** Adds a reference to every leaf and returns the same tree, for passing it on while keeping it. */
export function treeRef<T extends ParamTree>(tree: T): T {
  for (const [, leaf] of flattenNamed(tree)) void leaf.ref;
  return tree;
}

export function disposeTree(tree: ParamTree | null | undefined): void {
  if (!tree) return;
  for (const [, leaf] of flattenNamed(tree)) leaf.dispose();
}

/** Total number of scalars in the tree. */
export function countParams(tree: ParamTree): number {
  let total = 0;
  for (const [, leaf] of flattenNamed(tree)) total += leaf.size;
  return total;
}

/** A float32 array of normal samples with the given standard deviation (host-seeded, device independent). */
export function normalInit(rng: Rng, shape: number[], std: number): JaxArray {
  const size = shape.reduce((a, b) => a * b, 1);
  return np.array(rng.normalArray(size, std)).reshape(shape);
}

/** Lays a flat list of named host tensors out as a tree of device arrays. */
export function treeFromHost(entries: Iterable<[string, { shape: number[]; data: Float32Array }]>): ParamTree {
  const leaves: [string, JaxArray][] = [];
  for (const [name, { shape, data }] of entries) leaves.push([name, np.array(data).reshape(shape)]);
  return unflattenNamed(leaves);
}

/** Reads every leaf back to the host (the tree is kept). */
export async function treeToHost(tree: ParamTree): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, leaf] of flattenNamed(tree)) {
    const data = await leaf.ref.astype(np.float32).data();
    out.set(name, { shape: [...leaf.shape], data: data as Float32Array });
  }
  return out;
}
