/**
 * The sandbox world's assets: its constitution, its tiny base model (a GPT-2
 * pretrained by Precept's own SFT trainer on the world corpus: `precept world
 * pretrain`) and its prompt files (`precept world prompts`).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConstitution } from "../constitution/load.js";
import { writeJsonl } from "../data/dataset.js";
import { packExamples, sftExample } from "../data/examples.js";
import { initEngine } from "../engine/device.js";
import { Rng } from "../engine/rng.js";
import { trainBpe } from "../models/bpe-trainer.js";
import { END_OF_TEXT } from "../models/byte-tokenizer.js";
import { HUMAN_ASSISTANT_STOP_STRINGS, HUMAN_ASSISTANT_TEMPLATE } from "../models/chat-template.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { CausalLM } from "../models/model.js";
import { loadTokenizer } from "../models/tokenizer.js";
import { sftConfigSchema } from "../train/configs.js";
import { trainSft } from "../train/sft.js";
import { buildCorpus } from "../world/corpus.js";
import { type Category, RED_TEAM_CATEGORIES, samplePrompts } from "../world/prompts.js";

/** The sandbox world's constitution, shipped with the package. */
export const SANDBOX_CONSTITUTION = new URL("../../constitutions/sandbox.yaml", import.meta.url).pathname;
/** The shipped sandbox base model (helpful-only: it leaks data and complies with harmful requests). */
export const SANDBOX_BASE = new URL("../../models/sandbox-base", import.meta.url).pathname;

/**
 * The base model's shape: GPT-2 with 4 layers of width 128 (about 1M parameters, 4 MB of float32
 * weights) over a 1024-token byte-level BPE trained on the corpus (3.7 bytes per token), 256 tokens
 * of context: every corpus document fits (the longest is 140 tokens).
 */
export const SANDBOX_MODEL = { n_embd: 128, n_layer: 4, n_head: 4, n_positions: 256 };
export const SANDBOX_VOCAB = 1024;

/** Options of `pretrainSandboxModel`, the sandbox base model from scratch. */
export type PretrainOptions = { out: string; steps: number; seed: number; batch: number; learningRate: number; corpusScale: number };

export async function pretrainSandboxModel(o: PretrainOptions): Promise<void> {
  await initEngine();
  const constitution = loadConstitution(SANDBOX_CONSTITUTION);
  const n = Math.round(3000 * o.corpusScale);
  const corpus = buildCorpus({ seed: o.seed, principles: constitution.principles, dialogues: n, critiques: n, comparisons: n });
  console.log(
    `world corpus: ${corpus.stats.dialogues} dialogues, ${corpus.stats.critiques} critique → revision documents, ${corpus.stats.comparisons} comparisons, ${(corpus.stats.bytes / 1e6).toFixed(2)} MB`,
  );
  // A BPE fitted to the world: sequences ~3.7x shorter than bytes, so training and generation are several times faster.
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, "tokenizer.json"), JSON.stringify(trainBpe(corpus.documents, { vocabSize: SANDBOX_VOCAB })));
  // The chat template and stop strings of the Human/Assistant format the corpus is written in, so chat clients work.
  writeFileSync(
    join(o.out, "tokenizer_config.json"),
    JSON.stringify({
      bos_token: END_OF_TEXT,
      eos_token: END_OF_TEXT,
      pad_token: END_OF_TEXT,
      model_max_length: SANDBOX_MODEL.n_positions,
      chat_template: HUMAN_ASSISTANT_TEMPLATE,
    }),
  );
  writeFileSync(join(o.out, "generation_config.json"), JSON.stringify({ stop_strings: HUMAN_ASSISTANT_STOP_STRINGS }));
  const tokenizer = await loadTokenizer(o.out);
  const config = gpt2ConfigSchema.parse({ vocab_size: tokenizer.vocabSize, ...SANDBOX_MODEL });
  const model = new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(o.seed)), tokenizer);
  const examples = corpus.documents.map((text) => sftExample({ text }, tokenizer, { maxLength: SANDBOX_MODEL.n_positions }));
  const train = packExamples(examples, SANDBOX_MODEL.n_positions);
  const sft = sftConfigSchema.parse({
    model_name_or_path: "scratch",
    train_file: "world corpus",
    output_dir: o.out,
    max_length: SANDBOX_MODEL.n_positions,
    learning_rate: o.learningRate,
    lr_scheduler_type: "cosine",
    warmup_steps: Math.min(100, Math.floor(o.steps / 10)),
    weight_decay: 0.01,
    per_device_train_batch_size: o.batch,
    max_steps: o.steps,
    logging_steps: 25,
    save_steps: 200,
    save_total_limit: 1,
    seed: o.seed,
  });
  await trainSft({ config: sft, model, train });
  console.log(`sandbox base model saved in ${o.out}`);
}

/** Red-team, helpfulness and evaluation prompt files for the quickstart (JSONL with `prompt` and the world's `id`). */
export function writeSandboxPrompts(dir: string, options: { seed: number; perCategory: number; evalPerCategory: number }) {
  mkdirSync(dir, { recursive: true });
  const rows = (category: readonly Category[], split: "train" | "eval", per: number) =>
    samplePrompts({ seed: options.seed, split, perCategory: per, categories: category }).map((p) => ({
      prompt: p.text,
      id: p.id,
      category: p.category,
    }));
  const files = {
    redTeam: join(dir, "red-team.jsonl"),
    helpful: join(dir, "helpful.jsonl"),
    rl: join(dir, "rl.jsonl"),
    eval: join(dir, "eval.jsonl"),
  };
  writeJsonl(files.redTeam, rows(RED_TEAM_CATEGORIES, "train", options.perCategory));
  writeJsonl(files.helpful, rows(["helpful", "scary_harmless"], "train", options.perCategory));
  writeJsonl(files.rl, rows([...RED_TEAM_CATEGORIES, "helpful", "scary_harmless"], "train", options.perCategory));
  writeJsonl(
    files.eval,
    rows(["helpful", "pii", "policy", "medical", "harmful", "scary_harmless", "moderation"], "eval", options.evalPerCategory),
  );
  return files;
}
