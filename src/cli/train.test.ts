import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPrecept } from "../../test/helpers/cli.js";
import { Rng } from "../engine/rng.js";
import { ByteTokenizer } from "../models/byte-tokenizer.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { saveModel } from "../models/io.js";
import { CausalLM } from "../models/model.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-cli-"));
const base = join(tmp, "base");

const precept = runPrecept;

beforeAll(async () => {
  const tokenizer = new ByteTokenizer();
  const config = gpt2ConfigSchema.parse({ vocab_size: tokenizer.vocabSize, n_positions: 96, n_embd: 32, n_layer: 1, n_head: 2 });
  const model = new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(0)), tokenizer);
  await saveModel(model, base);
  model.dispose();
  writeFileSync(
    join(tmp, "sft.jsonl"),
    ["Hi|yo", "Hey|hello", "Bye|ciao"].map((p) => JSON.stringify({ prompt: p.split("|")[0], completion: p.split("|")[1] })).join("\n"),
  );
  writeFileSync(
    join(tmp, "prefs.jsonl"),
    ["Ann's phone?", "Bob's address?", "Kill a process?"]
      .map((q) => JSON.stringify({ prompt: q, chosen: "I can help with that safely.", rejected: "555" }))
      .join("\n"),
  );
  writeFileSync(join(tmp, "prompts.jsonl"), ["Hello", "Tell me"].map((p) => JSON.stringify({ prompt: p })).join("\n"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The progress bar's last state in a child's stderr (cli-progress redraws with carriage returns). */
function lastBar(stderr: string): string {
  return (
    stderr
      .split(/[\r\n]+/)
      .filter((line) => / steps \| /.test(line))
      .at(-1) ?? ""
  );
}

describe("precept train", () => {
  it("runs SFT from a YAML config with flags overriding it, and resumes from the latest checkpoint", () => {
    const out = join(tmp, "sft-out");
    writeFileSync(
      join(tmp, "sft.yaml"),
      `model_name_or_path: ${base}\ntrain_file: ${join(tmp, "sft.jsonl")}\noutput_dir: ${out}\nmax_steps: 50\nlearning_rate: 0.003\nsave_steps: 2\nprogress: false\n`,
    );
    const first = precept(
      ...["train", "sft", "--config", join(tmp, "sft.yaml"), "--max_steps", "4", "--per_device_train_batch_size", "3"],
      ...["--logging_steps", "3", "--progress", "true"],
    );
    expect(first.err).not.toMatch(/Error/);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/sft: done after 4 steps \(loss \d.*; last logging window, as in metrics.jsonl\)/);
    // The end-of-run line, the progress bar's last state and metrics.jsonl's last line give the same final loss.
    const lastLine = JSON.parse(readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").at(-1) as string);
    expect(lastLine.step).toBe(4);
    expect(first.out).toContain(`(loss ${lastLine.loss.toFixed(4)};`);
    expect(lastBar(first.err)).toMatch(new RegExp(`4/4 steps \\| loss ${lastLine.loss.toFixed(4)} \\|`));
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "metrics.jsonl", "checkpoint-4/trainer_state.json"])
      expect(existsSync(join(out, f))).toBe(true);
    const resumed = precept(
      "train",
      "sft",
      "--config",
      join(tmp, "sft.yaml"),
      "--max_steps",
      "6",
      "--per_device_train_batch_size",
      "3",
      "--resume",
      "latest",
      "--max_length",
      "100000",
    );
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/done after 6 steps/);
    // max_length past the model's positions: said plainly, and examples are cut there (not a 4 GiB allocation error).
    expect(resumed.err).toContain("sft: max_length 100000 is more than the model's 96 positions; examples are truncated to 96 tokens");
  });

  it("trains a reward model, then PPO against it", () => {
    const rm = join(tmp, "rm-out");
    const rmRun = precept(
      "train",
      "rm",
      "--model_name_or_path",
      base,
      "--train_file",
      join(tmp, "prefs.jsonl"),
      "--output_dir",
      rm,
      "--max_steps",
      "3",
      "--progress",
      "false",
    );
    expect(rmRun.code).toBe(0);
    expect(JSON.parse(readFileSync(join(rm, "checkpoint-3", "trainer_state.json"), "utf8")).trainer).toBe("rm");
    const ppo = precept(
      "train",
      "ppo",
      "--model_name_or_path",
      base,
      "--reward_model_path",
      rm,
      "--train_file",
      join(tmp, "prompts.jsonl"),
      "--output_dir",
      join(tmp, "ppo-out"),
      "--per_device_train_batch_size",
      "2",
      "--total_episodes",
      "4",
      "--response_length",
      "6",
    );
    expect(ppo.err).not.toMatch(/Error/);
    expect(ppo.code).toBe(0);
    expect(ppo.out).toMatch(/ppo: done after 8 steps \(objective\/kl -?\d.*objective\/scores -?\d/);
    // PPO's bar shows its own metrics (it logs no "loss"), ending on the values of the end-of-run line.
    const shown = /\((objective\/kl .*); last logging window/.exec(ppo.out)?.[1] as string;
    expect(lastBar(ppo.err)).toContain(`8/8 steps | ${shown} |`);
  });

  it("explains bad configs and bad datasets, naming the field or the file and line", () => {
    writeFileSync(join(tmp, "bad.yaml"), "learning_rate: -1\n");
    const badConfig = precept("train", "dpo", "--config", join(tmp, "bad.yaml"));
    expect(badConfig.code).toBe(1);
    expect(badConfig.err).toMatch(/bad.yaml: field "output_dir": .*field "learning_rate": Too small/);
    const badFlag = precept("train", "sft", "--max_steps", "many");
    expect(badFlag.err).toMatch(/option '--max_steps <value>' argument 'many' is invalid. expected a whole number, got "many"/);
    // Numeric flags are checked against the schema's range before any work starts (numbers.ts).
    const outOfRange = precept("train", "dpo", "--adam_beta2", "1");
    expect(outOfRange.code).toBe(1);
    expect(outOfRange.err).toMatch(/'--adam_beta2 <value>' argument '1' is invalid. expected a number ≥ 0 and < 1, got 1/);
    // serve's port too: 0 (any free port) to 65535.
    const badPort = precept("serve", "--model", base, "--port", "70000");
    expect(badPort.err).toMatch(/'--port <port>' argument '70000' is invalid. expected a whole number ≥ 0 and ≤ 65535/);
    writeFileSync(join(tmp, "typo.yaml"), `learnin_rate: 0.1\nmodel_name_or_path: ${base}\n`);
    const typo = precept("train", "sft", "--config", join(tmp, "typo.yaml"));
    expect(typo.code).toBe(1);
    expect(typo.err).toMatch(/typo.yaml: unknown option "learnin_rate" \(did you mean "learning_rate"\?\)/);
    writeFileSync(
      join(tmp, "dup.jsonl"),
      `${JSON.stringify({ prompt: "a", chosen: "x", rejected: "y" })}\n${JSON.stringify({ prompt: "a", chosen: "z", rejected: "z" })}\n`,
    );
    const badData = precept(
      "train",
      "dpo",
      "--model_name_or_path",
      base,
      "--train_file",
      join(tmp, "dup.jsonl"),
      "--output_dir",
      join(tmp, "dpo-out"),
    );
    expect(badData.code).toBe(1);
    expect(badData.err).toMatch(/dup.jsonl:2: field "chosen": chosen and rejected are identical/);
    const noReward = precept(
      "train",
      "grpo",
      "--model_name_or_path",
      base,
      "--train_file",
      join(tmp, "prompts.jsonl"),
      "--output_dir",
      join(tmp, "g"),
    );
    expect(noReward.err).toMatch(/reward_model_path is required/);
  });
});

describe("precept train online-dpo", () => {
  it("trains on fresh pairs that a local judge model ranks by a constitution, storing its labels", async () => {
    writeFileSync(
      join(tmp, "constitution.yaml"),
      'name: test\nversion: "1"\nprinciples:\n  - id: privacy\n    critique: Does it leak private data?\n    revision: Rewrite it without private data.\n    compare: Which response keeps private data private?\n',
    );
    // The judge reads a whole comparison prompt: a model with room for it.
    const judgeDir = join(tmp, "judge");
    const tokenizer = new ByteTokenizer();
    const config = gpt2ConfigSchema.parse({ vocab_size: tokenizer.vocabSize, n_positions: 512, n_embd: 16, n_layer: 1, n_head: 2 });
    const judgeModel = new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(1)), tokenizer);
    await saveModel(judgeModel, judgeDir);
    judgeModel.dispose();
    const db = join(tmp, "online-dpo.db");
    const out = join(tmp, "online-dpo-out");
    const run = precept(
      ...["--db", db, "train", "online-dpo", "--model_name_or_path", base, "--train_file", join(tmp, "prompts.jsonl")],
      ...["--judge", `local:${judgeDir}`, "--constitution", join(tmp, "constitution.yaml"), "--output_dir", out],
      ...["--per_device_train_batch_size", "2", "--max_steps", "2", "--max_new_tokens", "4", "--logging_steps", "1", "--progress", "false"],
    );
    expect(run.err).not.toMatch(/Error/);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/online-dpo: done after 2 steps \(loss \d/);
    const logged = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(logged).toHaveLength(2);
    expect(logged[0]).toHaveProperty(["rewards/margins"]);
    const { openStore } = await import("../store/store.js");
    const store = await openStore(db);
    const runs = await store.runs();
    const judged = runs.find((r) => r.kind === "online-dpo-judge");
    expect(judged).toBeDefined();
    // 2 steps x 2 prompts, each pair's prompt stored as the user wrote it.
    expect((await store.records(judged?.id as string, "prompt")).length).toBe(4);
    await store.close();
    const neither = precept("train", "online-dpo", "--model_name_or_path", base, "--train_file", "x", "--output_dir", join(tmp, "od-none"));
    expect(neither.err).toMatch(/give one of reward_model_path .* or judge/);
  });
});

describe("precept train: output_dir rules (HF overwrite_output_dir / resume)", () => {
  it("refuses an output_dir that holds an earlier run or is the input model; --overwrite_output_dir starts over", () => {
    const out = join(tmp, "reused");
    mkdirSync(join(out, "checkpoint-9"), { recursive: true });
    writeFileSync(join(out, "checkpoint-9", "trainer_state.json"), "{}");
    writeFileSync(join(out, "metrics.jsonl"), `${JSON.stringify({ step: 9, loss: 1 })}\n`);
    const args = ["train", "sft", "--model_name_or_path", base, "--train_file", join(tmp, "sft.jsonl"), "--progress", "false"];
    const refused = precept(...args, "--output_dir", out, "--max_steps", "2");
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/already holds an earlier run \(checkpoint-9, metrics.jsonl\): pass --resume latest/);
    const over = precept(...args, "--output_dir", out, "--max_steps", "2", "--logging_steps", "1", "--overwrite_output_dir", "true");
    expect(over.code).toBe(0);
    expect(existsSync(join(out, "checkpoint-9"))).toBe(false);
    const steps = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).step);
    expect(steps).toEqual([1, 2]);
    const inPlace = precept(...args, "--output_dir", base);
    expect(inPlace.code).toBe(1);
    expect(inPlace.err).toMatch(/is the model_name_or_path this run reads/);
  });
});

describe("precept store", () => {
  it("imports JSONL rows once and exports them back with provenance", () => {
    const db = join(tmp, "cli-store.db");
    writeFileSync(join(tmp, "rows.jsonl"), `${JSON.stringify({ prompt: "p", chosen: "a", rejected: "b", label: 0.7 })}\n`);
    expect(precept("--db", db, "store", "import", "--run", "r1", "--kind", "ai_label", "--in", join(tmp, "rows.jsonl")).out).toMatch(
      /stored 1 ai_label/,
    );
    precept("--db", db, "store", "import", "--run", "r1", "--kind", "ai_label", "--in", join(tmp, "rows.jsonl"));
    const exported = precept("--db", db, "store", "export", "--run", "r1", "--kind", "ai_label", "--out", join(tmp, "out.jsonl"));
    expect(exported.out).toMatch(/wrote 1 ai_label record\(s\)/);
    const [row] = readFileSync(join(tmp, "out.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(row).toMatchObject({ prompt: "p", chosen: "a", rejected: "b", label: 0.7, provenance: { seed: null } });
    expect(precept("store", "export", "--run", "r1", "--kind", "bogus", "--out", "x").err).toMatch(/argument 'bogus' is invalid/);
  });
});

describe("precept constitution", () => {
  const shipped = fileURLToPath(new URL("../../constitutions/", import.meta.url));
  const fixtures = fileURLToPath(new URL("../../test/fixtures/constitutions/", import.meta.url));

  it("lints, shows, diffs and imports constitutions", () => {
    const lint = precept("constitution", "lint", join(shipped, "general.yaml"), join(shipped, "medical.yaml"));
    expect(lint.code).toBe(0);
    expect(lint.out).toMatch(/general.yaml: ok — general-harmlessness v1.0, 6 principles, hash [0-9a-f]{16}/);
    const bad = precept("constitution", "lint", join(fixtures, "bad-field.yaml"));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/bad-field.yaml:8: field "principles.1.id"/);
    expect(precept("constitution", "show", join(shipped, "corporate.yaml")).out).toMatch(/\[no-customer-pii\] weight 3/);
    const imported = join(tmp, "imported.yaml");
    const made = precept(
      "constitution",
      "import",
      "--critique-revision",
      join(fixtures, "anthropic-critique-revision.json"),
      "--name",
      "paper",
      "--version",
      "1",
      "--out",
      imported,
    );
    expect(made.out).toMatch(/2 principles/);
    const diff = precept("--db", join(tmp, "empty-store.db"), "constitution", "diff", join(shipped, "general.yaml"), imported, "--records");
    expect(diff.code).toBe(0);
    expect(diff.out).toMatch(/- no-serious-harm \(removed\): 0 stored record\(s\)/);
    expect(diff.out).toMatch(/\+ rule0 \(added\)/);
  });
});
