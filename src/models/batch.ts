/**
 * Turning token lists of different lengths into padded batches, on the host.
 *
 * Left padding (generation) keeps every row's last token in the same column,
 * so decode steps write one shared cache slot. Positions count real tokens
 * only, so a padded row sees the same positions as when run alone; pads get
 * position 1, as `transformers`' `generate` gives them (their outputs are
 * never used).
 */
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";

export type PaddedBatch = {
  batch: number;
  length: number;
  /** [batch · length] token ids, pads set to `padId`. */
  ids: Int32Array;
  /** [batch · length] 1 for real tokens, 0 for pads. */
  mask: Uint8Array;
  /** [batch · length] position ids. */
  positions: Int32Array;
  /** Column where each row's real tokens start. */
  starts: number[];
  /** Number of real tokens in each row. */
  lengths: number[];
};

export function padBatch(
  rows: number[][],
  { side, padId, length }: { side: "left" | "right"; padId: number; length?: number },
): PaddedBatch {
  if (rows.length === 0) throw new Error("padBatch: empty batch");
  const longest = Math.max(...rows.map((r) => r.length));
  const width = length ?? longest;
  if (width < longest) throw new Error(`padBatch: a row has ${longest} tokens, more than the padded length ${width}`);
  const ids = new Int32Array(rows.length * width).fill(padId);
  const mask = new Uint8Array(rows.length * width);
  const positions = new Int32Array(rows.length * width).fill(1);
  const starts: number[] = [];
  rows.forEach((row, b) => {
    const start = side === "left" ? width - row.length : 0;
    starts.push(start);
    row.forEach((token, i) => {
      ids[b * width + start + i] = token;
      mask[b * width + start + i] = 1;
      positions[b * width + start + i] = i;
    });
  });
  return { batch: rows.length, length: width, ids, mask, positions, starts, lengths: rows.map((r) => r.length) };
}

/** The smallest multiple of `step` that is ≥ n (at least `step`): shapes in few buckets mean few jit compilations. */
export function bucket(n: number, step = 16): number {
  return Math.max(step, Math.ceil(n / step) * step);
}

/** Device arrays for a padded batch: ids and positions [B, T] int32, key mask [B, T] bool. */
export function batchArrays(batch: PaddedBatch): { ids: JaxArray; positions: JaxArray; keyMask: JaxArray } {
  const shape = [batch.batch, batch.length];
  return {
    ids: np.array(batch.ids, { dtype: np.int32 }).reshape(shape),
    positions: np.array(batch.positions, { dtype: np.int32 }).reshape(shape),
    keyMask: np.array(Int32Array.from(batch.mask), { dtype: np.int32 }).reshape(shape).astype(np.bool),
  };
}
