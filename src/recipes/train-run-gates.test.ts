/**
 * Issue 18's trainer gates, run end to end: `precept train ppo` with a huge
 * learning rate and no KL penalty really moves the policy far from its
 * reference, so the KL blow-up gate fails (and a sane run passes it);
 * `precept train dpo` on unlearnable pairs ends within noise of chance on its
 * held-out split (and passes on learnable ones). Under `--strict true` both exit 1. Tiny byte-level models
 * keep each run to seconds.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPreceptAsync } from "../../test/helpers/cli.js";
import { saveTinyModel } from "../../test/helpers/tiny-model.js";
import { initEngine } from "../engine/device.js";
import { Rng } from "../engine/rng.js";
import { loadModel, saveModel } from "../models/io.js";
import type { GateResult } from "../quality/gate.js";
import { dpoConfigSchema, ppoConfigSchema } from "../train/configs.js";
import { runDpo, runPpo } from "./train-run.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-train-gates-"));
const tiny = join(tmp, "tiny");
const rewardModel = join(tmp, "reward");

beforeAll(async () => {
  await initEngine();
  await saveTinyModel(tiny, { positions: 64, seed: 3 });
  // An untrained score head on the tiny model: a fixed, arbitrary reward that a loose policy can chase.
  const model = await loadModel(tiny);
  model.addScoreHead(new Rng(11));
  await saveModel(model, rewardModel);
  model.dispose();
  const prompts = Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `Question ${i}:` }));
  writeFileSync(join(tmp, "prompts.jsonl"), `${prompts.join("\n")}\n`);
  // Unlearnable pairs: chosen and rejected are drawn from the same random words, so no rule tells them apart.
  const rng = new Rng(7);
  const words = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta"];
  const phrase = () => Array.from({ length: 3 }, () => words[rng.int(words.length)]).join(" ");
  const pairs = Array.from({ length: 120 }, (_, i) =>
    JSON.stringify({ prompt: `Item ${i}:`, chosen: ` ${phrase()}`, rejected: ` ${phrase()}` }),
  );
  writeFileSync(join(tmp, "pairs.jsonl"), `${pairs.join("\n")}\n`);
  // Learnable pairs: the chosen side always says "yes", the rejected side "no".
  const learnable = Array.from({ length: 120 }, (_, i) =>
    JSON.stringify({ prompt: `Item ${i}: ${phrase()}?`, chosen: " yes, gladly", rejected: " no, never" }),
  );
  writeFileSync(join(tmp, "learnable.jsonl"), `${learnable.join("\n")}\n`);
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** `precept ARGS` in a child process, asynchronously. */
function precept(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return runPreceptAsync(args);
}

const quiet = ["--progress", "false", "--save_steps", "0", "--logging_steps", "1"];

const ppo = {
  model_name_or_path: tiny,
  reward_model_path: rewardModel,
  train_file: join(tmp, "prompts.jsonl"),
  per_device_train_batch_size: 4,
  total_episodes: 16,
  response_length: 12,
  temperature: 1,
  save_steps: 0,
  logging_steps: 1,
  progress: false,
};

function gatesOf(dir: string): GateResult[] {
  return JSON.parse(readFileSync(join(dir, "gates.json"), "utf8")) as GateResult[];
}

describe("trainer gates on real runs", () => {
  it("a sane PPO run keeps its KL bounded and passes the KL blow-up gate", async () => {
    const out = join(tmp, "ppo-sane");
    const gates = await runPpo(ppoConfigSchema.parse({ ...ppo, output_dir: out, learning_rate: 1e-5, kl_coef: 0.05 }), {});
    expect(gates.map((g) => g.gate)).toEqual(["kl-blowup"]);
    expect(gates[0]?.ok, gates[0]?.finding).toBe(true);
    expect(gates[0]?.n).toBe(4);
    expect(gatesOf(out)).toEqual(gates);
    const logged = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n");
    const kls = logged.map((l) => (JSON.parse(l) as Record<string, number>)["objective/kl"]).filter((v) => v !== undefined);
    expect(kls).toHaveLength(4);
    expect(Math.max(...(kls as number[]))).toBeLessThan(25);
  }, 180_000);

  it("PPO with a huge learning rate and kl_coef 0 blows up its KL: the gate fails, and --strict true exits 1", async () => {
    const out = join(tmp, "ppo-blowup");
    const run = await precept(
      "train",
      "ppo",
      "--model_name_or_path",
      tiny,
      "--reward_model_path",
      rewardModel,
      "--train_file",
      join(tmp, "prompts.jsonl"),
      "--output_dir",
      out,
      "--per_device_train_batch_size",
      "4",
      "--total_episodes",
      "16",
      "--response_length",
      "12",
      "--temperature",
      "1",
      "--learning_rate",
      "0.5",
      "--kl_coef",
      "0",
      ...quiet,
      "--strict",
      "true",
    );
    expect(run.out).toMatch(/ppo: WARN kl-blowup: objective\/kl (reached [\d.]+ nats|became)/);
    expect(run.err).toContain("train ppo: 1 quality gate(s) failed under --strict (kl-blowup)");
    expect(run.code).toBe(1);
    const [gate] = gatesOf(out);
    expect(gate?.ok).toBe(false);
    expect(Number.isFinite(gate?.value) ? (gate?.value as number) : Number.POSITIVE_INFINITY).toBeGreaterThan(25);
  }, 240_000);

  it("DPO on unlearnable pairs stays within noise of chance on its held-out split, and --strict true exits 1", async () => {
    const out = join(tmp, "dpo");
    const run = await precept(
      "train",
      "dpo",
      "--model_name_or_path",
      tiny,
      "--train_file",
      join(tmp, "pairs.jsonl"),
      "--output_dir",
      out,
      "--eval_split",
      "0.3",
      "--per_device_train_batch_size",
      "8",
      "--max_steps",
      "6",
      "--learning_rate",
      "0.001",
      "--max_length",
      "64",
      ...quiet,
      "--strict",
      "true",
    );
    expect(run.out).toMatch(
      /dpo: WARN chance-accuracy: the DPO policy's accuracy on 36 pairs held out of train_file \(eval_split 0\.3\) is [\d.]+, within noise of chance/,
    );
    expect(run.err).toContain("train dpo: 1 quality gate(s) failed under --strict (chance-accuracy)");
    expect(run.code).toBe(1);
    const [gate] = gatesOf(out);
    expect(gate).toMatchObject({ gate: "chance-accuracy", ok: false, n: 36 });
  }, 240_000);

  it("DPO on learnable pairs passes the chance gate on the same held-out split", async () => {
    const out = join(tmp, "dpo-learnable");
    const config = dpoConfigSchema.parse({
      model_name_or_path: tiny,
      train_file: join(tmp, "learnable.jsonl"),
      output_dir: out,
      eval_split: 0.3,
      per_device_train_batch_size: 8,
      max_steps: 6,
      learning_rate: 0.001,
      max_length: 64,
      save_steps: 0,
      logging_steps: 1,
      progress: false,
      strict: true,
    });
    const [gate] = await runDpo(config, {});
    expect(gate).toMatchObject({ gate: "chance-accuracy", ok: true, n: 36 });
    expect(gate?.value).toBeGreaterThan(0.8);
  }, 180_000);
});
