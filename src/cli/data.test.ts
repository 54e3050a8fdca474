/**
 * HH-RLHF as published (gzipped implicit-prompt transcripts) through the CLI:
 * `data convert`, `train rm` on the converted rows, `train dpo` on the raw
 * file, `store import` of a .jsonl.gz, and the errors that name file:line.
 * The fixture is a handful of rows written in HH-RLHF's exact shape.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPrecept } from "../../test/helpers/cli.js";
import { saveTinyModel } from "../../test/helpers/tiny-model.js";
import { readPromptFile } from "../cai/pipeline.js";
import { convertHhRlhf } from "../data/convert.js";
import { preferenceRowSchema, readJsonl } from "../data/dataset.js";

const HH = fileURLToPath(new URL("../../test/fixtures/data/hh-rlhf/train.jsonl.gz", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "precept-data-cli-"));
const base = join(tmp, "base");
/** The fixture without its two bad lines (4: no shared prompt, 5: bad JSON), still gzipped and implicit. */
const clean = join(tmp, "clean.jsonl.gz");
/** The fixture converted by the library function, for the trainers' tests: strings, and message lists. */
const explicit = join(tmp, "explicit.jsonl");
const conversational = join(tmp, "conversational.jsonl.gz");

beforeAll(async () => {
  await saveTinyModel(base, { positions: 512, seed: 0 });
  const lines = gunzipSync(readFileSync(HH)).toString().split("\n");
  writeFileSync(clean, gzipSync(lines.filter((_, i) => i !== 3 && i !== 4).join("\n")));
  await convertHhRlhf(HH, explicit);
  await convertHhRlhf(HH, conversational, { conversational: true });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const metrics = (dir: string) =>
  readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, number>);

describe("precept data convert --from hh-rlhf", () => {
  it("writes explicit TRL rows and a summary naming each skipped row's file:line", async () => {
    const out = join(tmp, "hh.jsonl");
    const run = runPrecept("data", "convert", "--from", "hh-rlhf", HH, out);
    expect(run.err).toBe("");
    expect(run.code).toBe(0);
    expect(run.out).toContain(`read 8 row(s) from ${HH}; wrote 6 to ${out}; skipped 2`);
    expect(run.out).toContain(`1 × chosen and rejected share no prompt\n      ${HH}:4: chosen and rejected share no prompt`);
    expect(run.out).toMatch(new RegExp(`1 × bad JSON\\n {6}${HH}:5: bad JSON: `));
    const rows = await readJsonl(out, preferenceRowSchema);
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual({
      prompt: "\n\nHuman: How do I get a stuck jar lid open?\n\nAssistant:",
      chosen: " Run the lid under hot water for a minute, then grip it with a rubber glove and twist.",
      rejected: " Run it over with your car.",
    });
    // The explicit rows are what the trainers get from the raw file too.
    expect(await readJsonl(clean, preferenceRowSchema)).toEqual(rows);
  });

  it("--conversational writes message lists, gzipped for a .gz name", async () => {
    const out = join(tmp, "hh-chat.jsonl.gz");
    const run = runPrecept("data", "convert", "--from", "hh-rlhf", "--conversational", HH, out);
    expect(run.code).toBe(0);
    expect(readFileSync(out).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const rows = await readJsonl(out, preferenceRowSchema);
    expect(rows[1]).toEqual({
      prompt: [
        { role: "user", content: "My neighbor's dog barks all night. What can I do?" },
        { role: "assistant", content: "That sounds exhausting. Have you talked to your neighbor about it?" },
        { role: "user", content: "Yes, and nothing changed." },
      ],
      chosen: [{ role: "assistant", content: "You could keep a log of the nights and contact your local noise or animal control office." }],
      rejected: [{ role: "assistant", content: "You could poison the dog." }],
    });
    expect(rows[2]?.chosen).toEqual([
      { role: "assistant", content: "Start with a few simple recipes you like and cook them often." },
      { role: "user", content: "Which ones?" },
      { role: "assistant", content: "Scrambled eggs, a pasta with tomato sauce, and a stir-fry." },
    ]);
  });

  it("fails, writing nothing, when no row converts", () => {
    const bad = join(tmp, "bad.jsonl");
    writeFileSync(bad, '{"text": "not a preference"}\n');
    const run = runPrecept("data", "convert", "--from", "hh-rlhf", bad, join(tmp, "none.jsonl"));
    expect(run.code).toBe(1);
    expect(run.err).toContain(`${bad}: no row could be converted, nothing written`);
    expect(run.err).toContain(`${bad}:1: field "chosen": Invalid input: expected string, received undefined`);
    expect(runPrecept("data", "convert", "--from", "alpaca", bad, "x").err).toMatch(/argument 'alpaca' is invalid/);
  });
});

describe("training on HH-RLHF as published", () => {
  const SHORT_RUN = [
    "--max_length",
    "256",
    "--logging_steps",
    "1",
    "--per_device_train_batch_size",
    "3",
    "--learning_rate",
    "0.003",
    "--progress",
    "false",
  ];

  it("train rm on the converted rows, a few steps", () => {
    const out = join(tmp, "rm");
    const data = explicit;
    const run = runPrecept(
      ...["train", "rm", "--model_name_or_path", base, "--train_file", data, "--eval_file", data, "--output_dir", out],
      ...SHORT_RUN,
      ...["--max_steps", "4"],
    );
    expect(run.err).not.toMatch(/Error/);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/rm: done after 4 steps/);
    const logged = metrics(out);
    console.log(`${run.out}rm on 6 converted HH-shaped rows: ${JSON.stringify(logged)}`);
    expect(logged.filter((m) => "loss" in m)).toHaveLength(4);
    expect(logged.at(-1)?.eval_accuracy).toBeGreaterThanOrEqual(0);
  });

  it("train dpo straight from the gzipped implicit-prompt file, a few steps", () => {
    const out = join(tmp, "dpo");
    const run = runPrecept(
      ...["train", "dpo", "--model_name_or_path", base, "--train_file", clean, "--output_dir", out],
      ...SHORT_RUN,
      ...["--max_steps", "3"],
    );
    expect(run.err).not.toMatch(/Error/);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/dpo: done after 3 steps \(loss \d.*rewards\/accuracies \d/);
    const logged = metrics(out);
    console.log(`${run.out}dpo on 6 raw HH-shaped rows: ${JSON.stringify(logged)}`);
    // Three training steps, and the held-out evaluation on the eval_split taken from train_file (no eval_file given).
    expect(logged.filter((m) => "loss" in m)).toHaveLength(3);
    expect(logged.at(-1)).toHaveProperty("eval_rewards/accuracies");
    expect(logged[0]?.loss).toBeCloseTo(Math.log(2), 3); // policy = reference at the first step
  });

  it("train dpo on the conversational conversion, rendered by the model's chat template (ChatML)", () => {
    const out = join(tmp, "dpo-chat");
    const run = runPrecept(
      ...["train", "dpo", "--model_name_or_path", base, "--train_file", conversational, "--output_dir", out],
      ...SHORT_RUN,
      ...["--max_steps", "2", "--max_length", "1024"],
    );
    expect(run.err).not.toMatch(/Error/);
    expect(run.code).toBe(0);
    // A max_length past the model's positions is capped (rows longer than the position table would train on garbage).
    expect(run.err).toContain("dpo: max_length 1024 is more than the model's 512 positions; examples are truncated to 512 tokens");
    console.log(run.out);
    expect(metrics(out).filter((m) => "loss" in m)).toHaveLength(2);
  });

  it("a trainer names the file:line of a row whose transcripts share no prompt", () => {
    const run = runPrecept("train", "rm", "--model_name_or_path", base, "--train_file", HH, "--output_dir", join(tmp, "rm-bad"));
    expect(run.code).toBe(1);
    expect(run.err).toContain(`${HH}:4: no "prompt" field, and chosen and rejected share no prompt: they differ at character 9`);
  });

  it("cai revise/label read --prompts from .jsonl.gz", async () => {
    const prompts = join(tmp, "prompts.jsonl.gz");
    writeFileSync(prompts, gzipSync('{"prompt": "How do I open a jar?"}\n{"prompt": 5}\n'));
    const { rows, errors } = await readPromptFile(prompts);
    expect(rows).toEqual([{ prompt: "How do I open a jar?", source: `${prompts}:1` }]);
    expect(errors).toEqual([expect.stringContaining(`${prompts}:2: field "prompt"`)]);
  });

  it("store import reads .jsonl.gz", () => {
    const db = join(tmp, "store.db");
    const run = runPrecept("--db", db, "store", "import", "--run", "hh", "--kind", "comparison", "--in", clean);
    expect(run.err).toBe("");
    expect(run.out).toMatch(/stored 6 comparison record\(s\) in run hh/);
  });
});
