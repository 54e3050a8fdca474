/**
 * `precept generate`: a model's responses to one's own prompts, as JSONL, to
 * look at what a model does without `serve` + curl. Prompts are asked the way
 * the evaluation asks them (eval/respond.ts: the chat format when the model
 * has one, else a Human/Assistant transcript); greedy by default, sampled
 * with a temperature, several samples per prompt with their own seeds.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { readPromptFile } from "../cai/pipeline.js";
import { itemSeed } from "../cai/sample.js";
import { type ResponseFormat, respond, responseFormat } from "../eval/respond.js";
import type { Provider } from "../providers/provider.js";
import type { GateResult } from "../quality/gate.js";
import { duplicateResponsesGate, emptyResponsesGate } from "../quality/responses.js";

export type GenerateOptions = {
  provider: Provider;
  /** JSONL rows with a `prompt` (text or messages; a conversation's last user turn is asked). */
  prompts: string;
  out: string;
  maxTokens?: number;
  /** 0 (default): greedy. */
  temperature?: number;
  /** Responses per prompt (default 1). */
  samples?: number;
  seed?: number;
  format?: ResponseFormat;
  limit?: number;
  /** Prompts in flight at once (a local model decodes them as one batch). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
};

export type GeneratedRow = {
  prompt: string;
  completion: string;
  model: string;
  sample: number;
  temperature: number;
  seed: number;
  format: "chat" | "text";
  source: string;
};

export type GenerateSummary = {
  out: string;
  rows: number;
  prompts: number;
  badRows: string[];
  format: "chat" | "text";
  gates: GateResult[];
};

export async function generateResponses(o: GenerateOptions): Promise<GenerateSummary> {
  const { rows: prompts, errors } = await readPromptFile(o.prompts, o.limit);
  if (prompts.length === 0)
    throw new Error(`${o.prompts}: no usable prompts (${errors[0] ?? "the file is empty"}); each line needs {"prompt": "..."}`);
  const samples = o.samples ?? 1;
  const temperature = o.temperature ?? 0;
  const seed = o.seed ?? 0;
  const format = responseFormat(o.provider, o.format ?? "auto");
  const jobs = prompts.flatMap((row) => Array.from({ length: samples }, (_, sample) => ({ row, sample })));
  const out: GeneratedRow[] = new Array(jobs.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < jobs.length; i = next++) {
      const { row, sample } = jobs[i] as (typeof jobs)[number];
      // Each (prompt, sample) has its own seed, so a row does not depend on what else is generated.
      const rowSeed = itemSeed(seed, row.prompt, `sample${sample}`);
      const completion = await respond(o.provider, row.prompt, { maxTokens: o.maxTokens ?? 128, temperature, seed: rowSeed, format });
      out[i] = { prompt: row.prompt, completion, model: o.provider.id, sample, temperature, seed: rowSeed, format, source: row.source };
      o.onProgress?.(++done, jobs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 8, jobs.length)) }, worker));
  mkdirSync(dirname(resolve(o.out)), { recursive: true });
  writeFileSync(o.out, out.map((r) => `${JSON.stringify(r)}\n`).join(""));
  const texts = out.map((r) => r.completion);
  const gates = [
    emptyResponsesGate(texts, { what: "responses" }),
    // One response per prompt: the same answer to different prompts means the model ignores them (greedy samples of one prompt agree by design).
    duplicateResponsesGate(
      out.filter((r) => r.sample === 0).map((r) => r.completion),
      { what: "first responses to different prompts" },
    ),
  ];
  return { out: resolve(o.out), rows: out.length, prompts: prompts.length, badRows: errors, format, gates };
}
