/**
 * The chance gate on trainers (issue 18): a reward model or DPO run on
 * unlearnable data (chosen and rejected are independent random tokens, the
 * label carries no rule) ends near 0.5 held-out accuracy, and the gate says
 * so; on a learnable rule it passes. The held-out pairs come from `holdOut`,
 * as when no eval file is given.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tinyModel } from "../../test/helpers/tiny-policy.js";
import { Rng } from "../engine/rng.js";
import { chanceAccuracyGate, holdOut } from "../quality/accuracy.js";
import { warnLine } from "../quality/gate.js";
import { dpoConfigSchema, rewardConfigSchema } from "./configs.js";
import { trainDpo } from "./dpo.js";
import { type PairExample, trainRewardModel } from "./reward.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-chance-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const common = { model_name_or_path: "unused", train_file: "unused", save_steps: 0, progress: false, logging_steps: 5 };

/** Random pairs; with `learnable`, the chosen side holds token 5 twice and the rejected side none. */
function pairs(seed: number, n: number, learnable: boolean): PairExample[] {
  const rng = new Rng(seed);
  const token = () => {
    const t = rng.int(15);
    return learnable && t >= 5 ? t + 1 : t;
  };
  return Array.from({ length: n }, () => {
    const prompt = [token(), token()];
    const chosen = [token(), token(), token(), token()];
    if (learnable) {
      chosen[0] = 5;
      chosen[2] = 5;
    }
    return { chosen: [...prompt, ...chosen], rejected: [...prompt, token(), token(), token(), token()] };
  });
}

describe("the chance gate on trainers", () => {
  it("a reward model on unlearnable data fails it; on a learnable rule it passes", async () => {
    const results: Record<string, ReturnType<typeof chanceAccuracyGate>> = {};
    for (const learnable of [false, true]) {
      const { train, heldOut } = holdOut(pairs(11, 240, learnable), 0.25, 42);
      const model = tinyModel(1);
      const config = rewardConfigSchema.parse({
        ...common,
        output_dir: join(tmp, `rm-${learnable}`),
        learning_rate: 3e-3,
        per_device_train_batch_size: 16,
        num_train_epochs: 2,
      });
      const result = await trainRewardModel({ config, model, train, evalSet: heldOut });
      expect(result.heldOut?.pairs).toBe(60);
      results[String(learnable)] = chanceAccuracyGate(result.heldOut?.accuracy ?? Number.NaN, 60);
      model.dispose();
    }
    const unlearnable = results.false as ReturnType<typeof chanceAccuracyGate>;
    expect(unlearnable.ok).toBe(false);
    expect(warnLine(unlearnable)).toMatch(
      /^WARN chance-accuracy: the reward model's accuracy on 60 held-out pairs is 0\.\d+, within noise of chance/,
    );
    expect(results.true?.ok).toBe(true);
    expect(results.true?.value).toBeGreaterThan(0.9);
  });

  it("DPO reports held-out rewards/accuracies (eval_ prefixed in metrics) that the gate judges", async () => {
    const toDpo = (p: PairExample) => ({ prompt: p.chosen.slice(0, 2), chosen: p.chosen.slice(2), rejected: p.rejected.slice(2) });
    const { train, heldOut } = holdOut(pairs(12, 96, false).map(toDpo), 0.25, 42);
    const model = tinyModel(2);
    const config = dpoConfigSchema.parse({
      ...common,
      output_dir: join(tmp, "dpo"),
      learning_rate: 5e-3,
      per_device_train_batch_size: 8,
      max_steps: 9,
    });
    const result = await trainDpo({ config, model, ref: model.clone(), train, evalSet: heldOut });
    expect(result.heldOut?.pairs).toBe(24);
    const logged = readFileSync(join(tmp, "dpo", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, number>);
    expect(logged.at(-1)?.["eval_rewards/accuracies"]).toBe(result.heldOut?.accuracy);
    const gate = chanceAccuracyGate(result.heldOut?.accuracy ?? Number.NaN, 24, { trainer: "DPO policy" });
    expect(gate.ok).toBe(false);
    expect(gate.advice).toContain("too few");
    model.dispose();
  });
});
