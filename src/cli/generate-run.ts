/** What `precept generate` does once its options are parsed: open the model, generate, print where the rows went. */
import { initEngine } from "../engine/device.js";
import type { ResponseFormat } from "../eval/respond.js";
import { BatchingProvider } from "../providers/batching.js";
import { LocalProvider } from "../providers/local.js";
import { isModelDir, openProvider } from "../providers/open.js";
import { failedGates, warnLines } from "../quality/gate.js";
import { generateResponses } from "../recipes/generate.js";

export async function generate(o: {
  model: string;
  prompts: string;
  out: string;
  maxTokens: number;
  temperature: number;
  samples: number;
  seed: number;
  format: string;
  limit?: number;
  concurrency: number;
  strict: boolean;
}): Promise<void> {
  if (!["auto", "chat", "text"].includes(o.format)) throw new Error(`--format must be auto, chat or text, not "${o.format}"`);
  if (o.samples > 1 && o.temperature === 0)
    console.error(
      `note: --samples ${o.samples} with --temperature 0 (greedy) gives the same response ${o.samples} times; add --temperature 0.7`,
    );
  if (/^(local|hf):/.test(o.model) || isModelDir(o.model)) await initEngine();
  const opened = await openProvider(o.model);
  // A local model decodes the prompts in flight as one batch.
  const provider = opened instanceof LocalProvider ? new BatchingProvider(opened, o.concurrency) : opened;
  try {
    const summary = await generateResponses({
      provider,
      prompts: o.prompts,
      out: o.out,
      maxTokens: o.maxTokens,
      temperature: o.temperature,
      samples: o.samples,
      seed: o.seed,
      format: o.format as ResponseFormat,
      concurrency: o.concurrency,
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
    });
    for (const bad of summary.badRows) console.error(`skipped a malformed row: ${bad}`);
    console.log(
      `${summary.rows} response(s) to ${summary.prompts} prompt(s) from ${o.model} (${summary.format === "chat" ? "chat format" : "Human/Assistant transcript"}, ${o.temperature === 0 ? "greedy" : `temperature ${o.temperature}`}): ${summary.out}`,
    );
    for (const line of warnLines(summary.gates)) console.log(line);
    if (o.strict && failedGates(summary.gates).length > 0) {
      console.error("a quality gate failed under --strict (see the WARN lines)");
      process.exitCode = 1;
    }
  } finally {
    provider.close?.();
  }
}
