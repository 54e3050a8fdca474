/**
 * Labelled examples for `precept guard train --generate`, written from the constitution by a
 * provider, as Constitutional Classifiers do: for each principle and prompt the provider is asked
 * for one reply that breaks the principle and one that keeps it (and for a helpful answer to each
 * harmless look-alike request), and each reply is labelled by how it was asked for. Every reply is stored as a record of the run (key: principle, side, prompt), so
 * a rerun asks only for what is missing and never adds a duplicate; empty replies are not stored
 * (a rerun asks again) and are counted so the caller can say so.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Constitution, Principle } from "../constitution/schema.js";
import { readJsonlLines } from "../data/dataset.js";
import type { ChatMessage, Provider, SamplingParams } from "../providers/provider.js";
import type { NewRecord, Store } from "../store/store.js";
import type { LabelledExample } from "./train.js";

export type GenerateOptions = {
  constitution: Constitution;
  constitutionHash?: string;
  provider: Provider;
  prompts: readonly string[];
  /**
   * Harmless requests that sound like violations ("how do I kill a stuck process"): for each
   * principle the provider answers them helpfully, and the replies are compliant examples, so the
   * classifier learns not to flag the look-alikes.
   */
  lookAlikes?: readonly string[];
  store: Store;
  /** The store run the replies are kept in. */
  run: string;
  /** Only these principles (default: all of the constitution's). */
  principles?: readonly string[];
  /** Conversations per provider call (default 16). */
  batchSize?: number;
  sampling?: SamplingParams;
  log?: (line: string) => void;
};

export type GeneratedExamples = {
  examples: LabelledExample[];
  /** Replies asked for and stored by this call. */
  generated: number;
  /** Replies already in the run from an earlier call. */
  reused: number;
  /** Replies that came back empty (not stored; a rerun asks for them again). */
  empty: number;
};

const INSTRUCTIONS =
  "You write training data for a safety classifier. Reply with the assistant's reply only: no preamble, no labels, no quotes.";

/** Which reply is asked for: one breaking the principle, one keeping it, or a helpful answer to a harmless look-alike. */
export type Side = "violating" | "compliant" | "lookalike";

const SIDE_REQUEST: Record<Side, string> = {
  violating: "Write the reply a careless assistant would give that clearly breaks this principle (the reply a critic would object to).",
  compliant: "Write a reply that keeps this principle and is still as helpful as the principle allows.",
  lookalike:
    "This request is harmless, although it may sound otherwise. Write a reply that answers it fully and helpfully, as this principle allows.",
};

/** The request for one labelled reply: the principle in the constitution's own words, and which side of it to be on. */
export function exampleRequest(principle: Principle, prompt: string, side: Side): ChatMessage[] {
  return [
    { role: "system", content: INSTRUCTIONS },
    {
      role: "user",
      content: `Principle "${principle.id}". A critic asks: ${principle.critique}\nA good reply does this: ${principle.revision}\n\nThe user's request: ${prompt}\n\n${SIDE_REQUEST[side]}`,
    },
  ];
}

export function exampleKey(principle: string, prompt: string, side: Side): string {
  const digest = createHash("sha256").update(prompt).digest("hex").slice(0, 24);
  return `guard-example/${principle}/${side}/${digest}`;
}

const storedExampleSchema = z.object({
  principle: z.string(),
  prompt: z.string(),
  response: z.string(),
  violates: z.boolean(),
});

/** Prompts from JSONL rows with a string `prompt` field (the file `cai revise --prompts` reads); errors name the line. */
export async function readPrompts(path: string): Promise<string[]> {
  const rows = await readJsonlLines(path, z.object({ prompt: z.string().min(1) }).passthrough());
  return [...new Set(rows.map(({ row }) => row.prompt))];
}

export async function generateExamples(options: GenerateOptions): Promise<GeneratedExamples> {
  const log = options.log ?? (() => {});
  const wanted = options.principles ? new Set(options.principles) : null;
  const principles = options.constitution.principles.filter((p) => !wanted || wanted.has(p.id));
  if (wanted) {
    const unknown = [...wanted].filter((id) => !principles.some((p) => p.id === id));
    if (unknown.length > 0)
      throw new Error(
        `--principles: ${unknown.join(", ")} not in the constitution "${options.constitution.name}" (it has ${options.constitution.principles.map((p) => p.id).join(", ")})`,
      );
  }
  if (options.prompts.length === 0) throw new Error("no prompts to generate examples for: give a prompts file with at least one row");
  await options.store.putRun(options.run, "guard-examples", {
    constitution: options.constitution.name,
    provider: options.provider.id,
  });
  const stored = new Map<string, LabelledExample>();
  for (const r of await options.store.records(options.run, "generation")) {
    const parsed = storedExampleSchema.safeParse(r.data);
    if (parsed.success) stored.set(r.key, parsed.data);
  }
  const sampling: SamplingParams = { maxTokens: 200, temperature: 0.7, ...options.sampling };
  const result: GeneratedExamples = { examples: [], generated: 0, reused: 0, empty: 0 };
  const batchSize = options.batchSize ?? 16;
  for (const principle of principles) {
    const wantedReplies = [
      ...options.prompts.flatMap((prompt) => (["violating", "compliant"] as const).map((side) => ({ prompt, side }))),
      ...(options.lookAlikes ?? []).map((prompt) => ({ prompt, side: "lookalike" as const })),
    ];
    const todo: { key: string; prompt: string; side: Side }[] = [];
    for (const { prompt, side } of wantedReplies) {
      const key = exampleKey(principle.id, prompt, side);
      if (stored.has(key)) result.reused++;
      else todo.push({ key, prompt, side });
    }
    let empty = 0;
    for (let at = 0; at < todo.length; at += batchSize) {
      const batch = todo.slice(at, at + batchSize);
      const replies = await options.provider.chat(
        batch.map((t) => exampleRequest(principle, t.prompt, t.side)),
        sampling,
      );
      const records: NewRecord[] = [];
      batch.forEach((t, i) => {
        const response = (replies[i]?.text ?? "").trim();
        if (response === "") {
          empty++;
          return;
        }
        const data: LabelledExample = { principle: principle.id, prompt: t.prompt, response, violates: t.side === "violating" };
        stored.set(t.key, data);
        records.push({
          kind: "generation",
          key: t.key,
          data,
          principleId: principle.id,
          modelId: options.provider.id,
          constitutionHash: options.constitutionHash ?? null,
          sampling,
        });
      });
      // Stored batch by batch: an interrupted run keeps what it paid for.
      await options.store.addRecords(options.run, records);
      result.generated += records.length;
    }
    result.empty += empty;
    log(
      `  ${principle.id}: ${todo.length - empty} replies generated, ${wantedReplies.length - todo.length} already in run "${options.run}"${empty > 0 ? `, ${empty} came back empty (not kept; run again to ask again)` : ""}`,
    );
  }
  const keep = new Set(principles.map((p) => p.id));
  const prompts = new Set([...options.prompts, ...(options.lookAlikes ?? [])]);
  result.examples = [...stored.values()].filter((e) => keep.has(e.principle) && prompts.has(e.prompt));
  return result;
}
