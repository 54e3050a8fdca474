import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readJsonlLines, sftRowSchema } from "../data/dataset.js";
import { sftExample } from "../data/examples.js";
import { Rng } from "../engine/rng.js";
import { ByteTokenizer } from "../models/byte-tokenizer.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { CausalLM } from "../models/model.js";
import { grpoConfigSchema, ktoConfigSchema, onlineDpoConfigSchema, ppoConfigSchema, sftConfigSchema } from "./configs.js";
import { removeCrashedSaves } from "./core.js";
import { trainGrpo } from "./group.js";
import { trainKto } from "./kto.js";
import { trainOnlineDpo } from "./online-dpo.js";
import { earlierRun, prepareOutputDir } from "./output-dir.js";
import { trainPpo } from "./ppo.js";
import { trainSft } from "./sft.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-inputs-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tokenizer = new ByteTokenizer();

function tinyModel() {
  const config = gpt2ConfigSchema.parse({ vocab_size: tokenizer.vocabSize, n_positions: 64, n_embd: 16, n_layer: 1, n_head: 2 });
  return new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(0)), tokenizer);
}

/** The SFT examples of a JSONL file, tokenized as `precept train sft` does. */
async function examples(name: string, rows: unknown[], maxLength: number) {
  const path = join(tmp, name);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join("\n"));
  return (await readJsonlLines(path, sftRowSchema)).map(({ row, line }) =>
    sftExample(row, tokenizer, { maxLength, where: `${path}:${line}` }),
  );
}

const sft = (dir: string, extra: Record<string, unknown> = {}) =>
  sftConfigSchema.parse({
    model_name_or_path: "unused",
    train_file: "unused",
    output_dir: join(tmp, dir),
    max_steps: 4,
    save_steps: 2,
    per_device_train_batch_size: 2,
    learning_rate: 1e-3,
    logging_steps: 1,
    progress: false,
    ...extra,
  });

describe("SFT inputs with nothing to learn", () => {
  it("an all-empty file, or prompts that leave no room for the completion, stop with a clear error (not loss 0 on 0 tokens)", async () => {
    const model = tinyModel();
    const empty = await examples("empty-text.jsonl", [{ text: "" }, { text: "" }], 64);
    await expect(trainSft({ config: sft("empty"), model, train: empty })).rejects.toThrow(
      /sft: none of the 2 training example\(s\) has a token to learn from: .*raise max_length/,
    );
    const longPrompt = "x".repeat(40);
    const truncated = await examples(
      "long-prompts.jsonl",
      [
        { prompt: longPrompt, completion: "yes" },
        { prompt: longPrompt, completion: "no" },
      ],
      32,
    );
    await expect(trainSft({ config: sft("truncated"), model, train: truncated })).rejects.toThrow(/has a token to learn from/);
    expect(existsSync(join(tmp, "truncated", "metrics.jsonl"))).toBe(false);
    // KTO's unpaired rows the same way: completions truncated away leave nothing to score.
    const ref = model.clone();
    const kto = ktoConfigSchema.parse({
      model_name_or_path: "unused",
      train_file: "unused",
      output_dir: join(tmp, "kto"),
      progress: false,
    });
    const unpaired = [true, false].map((label) => ({ prompt: [1, 2, 3], completion: [], label }));
    await expect(trainKto({ config: kto, model, ref, train: unpaired })).rejects.toThrow(/kto: none of the 2 completions has a token left/);
    ref.dispose();
    model.dispose();
  });
});

describe("checkpoints and metrics across a crash and a resume", () => {
  it("removes checkpoint temp directories of dead processes, and a resume drops metrics logged past its checkpoint", async () => {
    const out = join(tmp, "resume");
    mkdirSync(out, { recursive: true });
    // A save killed midway (pid 2^22 + 1 is beyond Linux's pid range, so no such process), and one of a live process.
    mkdirSync(join(out, "checkpoint-7.tmp-4194305"));
    writeFileSync(join(out, "checkpoint-7.tmp-4194305", "model.safetensors"), "half");
    mkdirSync(join(out, "checkpoint-8.tmp-1"));
    const train = await examples(
      "sft.jsonl",
      [
        { prompt: "Hi", completion: "yo" },
        { prompt: "Hey", completion: "hello" },
      ],
      64,
    );
    const model = tinyModel();
    await trainSft({ config: sft("resume"), model, train });
    expect(existsSync(join(out, "checkpoint-7.tmp-4194305"))).toBe(false);
    expect(existsSync(join(out, "checkpoint-8.tmp-1"))).toBe(true); // pid 1 is alive
    expect(removeCrashedSaves(out)).toEqual([]);
    const steps = () =>
      readFileSync(join(out, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as { step: number }).step);
    expect(steps()).toEqual([1, 2, 3, 4]);
    // A kill after step 3 would leave lines past checkpoint-2 and maybe half a line: both go on resume.
    writeFileSync(join(out, "metrics.jsonl"), '{"step": 1}\n{"step": 2}\n{"step": 3}\n{"step": 4, "lo');
    const again = tinyModel();
    await trainSft({ config: sft("resume"), model: again, train, resume: join(out, "checkpoint-2") });
    expect(steps()).toEqual([1, 2, 3, 4]);
    model.dispose();
    again.dispose();
  });
});

describe("output_dir rules (HF overwrite_output_dir / resume)", () => {
  it("refuses to write over the input model, and over an earlier run unless resumed or overwritten", () => {
    const model = join(tmp, "model-in");
    mkdirSync(model, { recursive: true });
    writeFileSync(join(model, "config.json"), "{}");
    expect(() => prepareOutputDir({ outputDir: `${model}/`, inputs: { model_name_or_path: `local:${model}` }, overwrite: true })).toThrow(
      /is the model_name_or_path this run reads: training would overwrite that model in place; choose another output_dir/,
    );
    expect(() => prepareOutputDir({ outputDir: model, inputs: { judge: `llama:${model}` }, overwrite: false })).toThrow(
      /is the judge this run reads/,
    );
    expect(prepareOutputDir({ outputDir: join(tmp, "x"), inputs: { judge: "openai:x", m: "hf:Org/x" }, overwrite: false }).removed).toEqual(
      [],
    );
    const out = join(tmp, "earlier");
    mkdirSync(join(out, "checkpoint-4"), { recursive: true });
    writeFileSync(join(out, "metrics.jsonl"), "{}\n");
    writeFileSync(join(out, ".precept-stage.json"), "{}");
    expect(earlierRun(out)).toEqual(["checkpoint-4", "metrics.jsonl"]);
    const inputs = { model_name_or_path: model };
    expect(() => prepareOutputDir({ outputDir: out, inputs, overwrite: false })).toThrow(
      /already holds an earlier run \(checkpoint-4, metrics.jsonl\): pass --resume latest to continue it, --overwrite_output_dir true/,
    );
    expect(prepareOutputDir({ outputDir: out, inputs, overwrite: false, resume: "latest" }).removed).toEqual([]);
    expect(prepareOutputDir({ outputDir: out, inputs, overwrite: true }).removed).toEqual(["checkpoint-4", "metrics.jsonl"]);
    expect(earlierRun(out)).toEqual([]);
    expect(existsSync(join(out, ".precept-stage.json"))).toBe(true);
    expect(prepareOutputDir({ outputDir: join(tmp, "fresh"), inputs, overwrite: false }).removed).toEqual([]);
  });
});

describe("online trainers: prompt + new tokens beyond the model's positions", () => {
  it("stop before training, naming the option to lower", async () => {
    const policy = tinyModel(); // 64 positions
    const ref = policy.clone();
    const prompts = [tokenizer.encode("a prompt of 24 tokens ..")];
    const common = { model_name_or_path: "unused", train_file: "unused", progress: false, save_steps: 0 };
    const reward = { fn: ({ responses }: { responses: number[][] }) => responses.map(() => 0) };
    await expect(
      trainPpo({
        config: ppoConfigSchema.parse({ ...common, output_dir: join(tmp, "p"), response_length: 100000 }),
        policy,
        ref,
        prompts,
        reward,
      }),
    ).rejects.toThrow(
      "ppo: the longest prompt (24 tokens) + response_length 100000 is more than the model's 64 positions; lower response_length to 40 or less",
    );
    await expect(
      trainGrpo({
        config: grpoConfigSchema.parse({ ...common, output_dir: join(tmp, "g"), response_length: 41 }),
        policy,
        ref,
        prompts,
        reward,
      }),
    ).rejects.toThrow(/grpo: .* \+ response_length 41 is more than the model's 64 positions/);
    await expect(
      trainOnlineDpo({
        config: onlineDpoConfigSchema.parse({ ...common, output_dir: join(tmp, "o") }),
        policy,
        ref,
        prompts: [Array.from({ length: 70 }, () => 1)],
        preference: { judge: () => [0.5] },
      }),
    ).rejects.toThrow(
      "online-dpo: the longest prompt (70 tokens) + max_new_tokens 64 is more than the model's 64 positions; shorten the prompts",
    );
    policy.dispose();
    ref.dispose();
  });
});
