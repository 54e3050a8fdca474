/**
 * What changed between two versions of a constitution, principle by
 * principle, and (with a store) which stored records were produced under a
 * principle that has since changed or gone, so they can be regenerated.
 */
import type { Store } from "../store/store.js";
import type { LoadedConstitution, Principle } from "./load.js";

export type ConstitutionDiff = {
  from: string;
  to: string;
  added: string[];
  removed: string[];
  /** Principle id → the fields that differ. */
  changed: Record<string, string[]>;
  unchanged: string[];
  /** Records stored under `from` per changed or removed principle (with a store). */
  affectedRecords?: Record<string, number>;
};

const FIELDS: (keyof Principle)[] = ["critique", "revision", "compare", "tags", "weight", "priority", "hard"];

export function diffConstitutions(a: LoadedConstitution, b: LoadedConstitution): ConstitutionDiff {
  const before = new Map(a.principles.map((p) => [p.id, p]));
  const after = new Map(b.principles.map((p) => [p.id, p]));
  const diff: ConstitutionDiff = { from: a.hash, to: b.hash, added: [], removed: [], changed: {}, unchanged: [] };
  for (const [id, p] of after) {
    const old = before.get(id);
    if (!old) diff.added.push(id);
    else {
      const fields = FIELDS.filter((f) => JSON.stringify(old[f]) !== JSON.stringify(p[f]));
      if (fields.length > 0) diff.changed[id] = fields;
      else diff.unchanged.push(id);
    }
  }
  for (const id of before.keys()) if (!after.has(id)) diff.removed.push(id);
  return diff;
}

/** Adds how many stored records each changed or removed principle produced under the old constitution. */
export async function withAffectedRecords(diff: ConstitutionDiff, store: Store): Promise<ConstitutionDiff> {
  const counts = await store.principleCounts(diff.from);
  const affected: Record<string, number> = {};
  for (const id of [...Object.keys(diff.changed), ...diff.removed]) affected[id] = counts[id] ?? 0;
  return { ...diff, affectedRecords: affected };
}
