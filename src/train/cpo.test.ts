import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tinyModel } from "../../test/helpers/tiny-policy.js";
import { cpoConfigSchema, orpoConfigSchema, simpoConfigSchema } from "./configs.js";
import { trainCpo, trainOrpo } from "./cpo.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-cpo-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const common = { model_name_or_path: "unused", train_file: "unused", save_steps: 0, progress: false, logging_steps: 1 };
const run = { learning_rate: 5e-3, per_device_train_batch_size: 8, max_steps: 30 };
// Prefer completions that repeat the prompt token over ones that do not.
const train = [1, 2, 3, 4, 6, 7, 8, 9].map((p) => ({ prompt: [p], chosen: [p, p, 15], rejected: [(p + 3) % 15, (p + 6) % 15, 15] }));

function expectLearned(history: Record<string, number>[]) {
  const first = history[0] as Record<string, number>;
  const last = history[history.length - 1] as Record<string, number>;
  expect(last["rewards/margins"]).toBeGreaterThan((first["rewards/margins"] as number) + 0.1);
  expect(last["rewards/accuracies"]).toBe(1);
  expect(last.loss).toBeLessThan(first.loss as number);
  for (const name of ["rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected"]) expect(last).toHaveProperty([name]);
  return last;
}

describe("reference-free preference trainers", () => {
  it("ORPO raises the chosen log-odds over the rejected ones and fits the chosen completions", async () => {
    const model = tinyModel(3);
    const config = orpoConfigSchema.parse({ ...common, ...run, output_dir: join(tmp, "orpo"), beta: 0.5 });
    const { history } = await trainOrpo({ config, model, train });
    const last = expectLearned(history);
    expect(last.log_odds_chosen).toBeGreaterThan(history[0]?.log_odds_chosen as number);
    expect(last.nll_loss).toBeLessThan(history[0]?.nll_loss as number);
    model.dispose();
  });

  it("CPO (sigmoid + NLL) and SimPO (defaults: β 2, γ 0.5, no NLL) learn the rule", async () => {
    const cpoModel = tinyModel(3);
    const cpo = cpoConfigSchema.parse({ ...common, ...run, output_dir: join(tmp, "cpo") });
    expectLearned((await trainCpo({ config: cpo, model: cpoModel, train })).history);
    cpoModel.dispose();
    const simpoModel = tinyModel(3);
    const simpo = simpoConfigSchema.parse({ ...common, ...run, output_dir: join(tmp, "simpo") });
    expect([simpo.loss_type, simpo.beta, simpo.cpo_alpha, simpo.simpo_gamma]).toEqual(["simpo", 2, 0, 0.5]);
    const { history } = await trainCpo({ config: simpo, model: simpoModel, train });
    expectLearned(history);
    simpoModel.dispose();
  });
});
