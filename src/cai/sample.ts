/**
 * Seeded principle sampling: independent draws with replacement, weighted by
 * each principle's `weight`, as in the CAI paper. A draw depends only on the
 * seed, the item's key and the draw's index (hashed), so it does not change
 * with batch size, worker count or a restart.
 */
import { createHash } from "node:crypto";
import type { Principle } from "../constitution/schema.js";

/** A uniform number in [0, 1) from a hash of the parts. */
export function hashUniform(...parts: (string | number)[]): number {
  const digest = createHash("sha256").update(parts.join("\u0000")).digest();
  // 48 bits are plenty for a draw and stay exact in a double.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** The principle for draw `index` of item `key` under `seed`. */
export function samplePrinciple(principles: readonly Principle[], seed: number, key: string, index: number): Principle {
  if (principles.length === 0) throw new Error("cannot sample from a constitution without principles");
  const total = principles.reduce((sum, p) => sum + p.weight, 0);
  let u = hashUniform("principle", seed, key, index) * total;
  for (const p of principles) {
    u -= p.weight;
    if (u < 0) return p;
  }
  return principles[principles.length - 1] as Principle;
}

/** `count` independent draws (with replacement) for one item. */
export function samplePrinciples(principles: readonly Principle[], seed: number, key: string, count: number): Principle[] {
  return Array.from({ length: count }, (_, i) => samplePrinciple(principles, seed, key, i));
}

/** A per-item, per-purpose seed for providers that take one (stable across restarts). */
export function itemSeed(seed: number, key: string, purpose: string): number {
  return Math.floor(hashUniform("seed", seed, key, purpose) * 2 ** 31);
}
