/**
 * Export and import of stored records as JSONL. Pipelines keep each record's
 * `data` in TRL's field names where one exists (`{prompt, completion}` for
 * revisions, `{prompt, chosen, rejected, label}` for comparisons and AI
 * labels), so an export feeds `precept train` directly; provenance travels in
 * a `provenance` field that TRL ignores. Files may be gzipped (`.jsonl.gz`):
 * read whatever the name, written when the name ends in `.gz`.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { readJsonl, writeJsonl } from "../data/dataset.js";
import type { NewRecord, RecordKind, Store } from "./store.js";

export async function exportRecords(
  store: Store,
  runId: string,
  kind: RecordKind,
  path: string,
  { provenance = true } = {},
): Promise<number> {
  const records = await store.records(runId, kind);
  // An empty file for a mistyped run id would look like a successful export.
  if (records.length === 0) {
    const run = (await store.runs()).find((r) => r.id === runId);
    if (!run) throw new Error(`there is no run "${runId}" in this store; \`precept store runs\` lists the runs it has`);
    const has = Object.entries(run.records).map(([k, n]) => `${n} ${k}`);
    throw new Error(`run "${runId}" has no ${kind} records (it has ${has.length > 0 ? has.join(", ") : "no records"}); nothing written`);
  }
  writeJsonl(
    path,
    records.map((r) => {
      const row = typeof r.data === "object" && r.data !== null && !Array.isArray(r.data) ? { ...(r.data as object) } : { data: r.data };
      if (!provenance) return row;
      return {
        ...row,
        provenance: {
          key: r.key,
          constitution_hash: r.constitutionHash,
          principle_id: r.principleId,
          model_id: r.modelId,
          sampling: r.sampling,
          seed: r.seed,
        },
      };
    }),
  );
  return records.length;
}

const importRowSchema = z.record(z.string(), z.unknown());

/** Imports JSONL rows as records of `kind`; a row's key is its `provenance.key` or its content hash, so importing twice adds nothing. */
export async function importRecords(store: Store, runId: string, kind: RecordKind, path: string): Promise<number[]> {
  const rows = await readJsonl(path, importRowSchema);
  const records: NewRecord[] = rows.map((row) => {
    const { provenance, ...data } = row as { provenance?: Record<string, unknown> } & Record<string, unknown>;
    const key =
      typeof provenance?.key === "string" ? provenance.key : createHash("sha256").update(JSON.stringify(data)).digest("hex").slice(0, 32);
    return {
      kind,
      key,
      data,
      constitutionHash: (provenance?.constitution_hash as string | undefined) ?? null,
      principleId: (provenance?.principle_id as string | undefined) ?? null,
      modelId: (provenance?.model_id as string | undefined) ?? null,
      ...(provenance?.sampling !== undefined ? { sampling: provenance.sampling } : {}),
      seed: (provenance?.seed as number | undefined) ?? null,
    };
  });
  return store.addRecords(runId, records);
}
