/**
 * Each step of a pipeline (an initial response, a critique, a revision, a
 * label) becomes a stored record the moment it is produced. A rerun reads the
 * run's records first and reuses every step already stored, so a killed
 * pipeline continues mid-item with the same transcript it had, and the
 * store's (run, kind, key) uniqueness keeps two workers from storing a step
 * twice.
 */

import type { ChatMessage } from "../models/chat-template.js";
import type { Completion, Provider, SamplingParams } from "../providers/provider.js";
import type { NewRecord, RecordKind, Store, StoredRecord } from "../store/store.js";

export type Tally = { calls: number; promptTokens: number; completionTokens: number; reused: number };

export function emptyTally(): Tally {
  return { calls: 0, promptTokens: 0, completionTokens: 0, reused: 0 };
}

export class RecordSteps {
  readonly tally = emptyTally();

  private constructor(
    readonly store: Store,
    readonly runId: string,
    private readonly existing: Map<string, StoredRecord>,
  ) {}

  static async open(store: Store, runId: string): Promise<RecordSteps> {
    const existing = new Map((await store.records(runId)).map((r) => [`${r.kind}\u0000${r.key}`, r]));
    return new RecordSteps(store, runId, existing);
  }

  get(kind: RecordKind, key: string): StoredRecord | undefined {
    return this.existing.get(`${kind}\u0000${key}`);
  }

  /** The stored record for (kind, key), or `produce`'s, stored now. */
  async step(kind: RecordKind, key: string, produce: () => Promise<Omit<NewRecord, "kind" | "key">>): Promise<StoredRecord> {
    const found = this.get(kind, key);
    if (found) {
      this.tally.reused++;
      return found;
    }
    const record = { ...(await produce()), kind, key };
    const [id] = await this.store.addRecords(this.runId, [record]);
    // If another worker stored this step first (its lease expired mid-step), the store keeps that
    // record and returns its id; this item then continues with its own text, the rest is unaffected.
    const stored: StoredRecord = {
      id: id as number,
      runId: this.runId,
      kind,
      key,
      data: record.data,
      parentId: record.parentId ?? null,
      constitutionHash: record.constitutionHash ?? null,
      principleId: record.principleId ?? null,
      modelId: record.modelId ?? null,
      sampling: record.sampling ?? null,
      seed: record.seed ?? null,
      createdAt: Date.now(),
    };
    this.existing.set(`${kind}\u0000${key}`, stored);
    return stored;
  }

  /** One completion from a completion-style prompt or a chat conversation, counted in the tally. */
  async complete(provider: Provider, input: string | ChatMessage[], params: SamplingParams): Promise<Completion> {
    const [completion] = typeof input === "string" ? await provider.generate([input], params) : await provider.chat([input], params);
    if (!completion) throw new Error(`${provider.id} returned no completion`);
    this.count(completion);
    return completion;
  }

  count(completion: Completion): void {
    this.tally.calls++;
    this.tally.promptTokens += completion.usage.promptTokens;
    this.tally.completionTokens += completion.usage.completionTokens;
  }
}
