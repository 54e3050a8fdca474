import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tinyModel } from "../../test/helpers/tiny-policy.js";
import type { CausalLM } from "../models/model.js";
import { scoreCompletions } from "../models/score.js";
import { ktoConfigSchema } from "./configs.js";
import { trainKto, unpair } from "./kto.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-kto-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sum = (x: Float32Array) => x.reduce((a, b) => a + b, 0);

describe("KTO", () => {
  it("from thumbs-up/down rows (built from pairs) raises desirable and lowers undesirable completions, logging TRL's metrics", async () => {
    const model = tinyModel(3);
    const ref = model.clone();
    // The rule: repeating the prompt token is desirable; other tokens are not.
    const prompts = [1, 2, 3, 4, 6, 7, 8, 9];
    const train = unpair(prompts.map((p) => ({ prompt: [p], chosen: [p, p, 15], rejected: [(p + 3) % 15, (p + 6) % 15, 15] })));
    expect(train.filter((e) => e.label)).toHaveLength(8);
    const config = ktoConfigSchema.parse({
      model_name_or_path: "unused",
      train_file: "unused",
      output_dir: join(tmp, "kto"),
      save_steps: 0,
      progress: false,
      logging_steps: 1,
      learning_rate: 5e-3,
      per_device_train_batch_size: 8,
      max_steps: 30,
      desirable_weight: 1.33,
    });
    const margin = async (m: CausalLM) => {
      const chosen = await scoreCompletions(
        m,
        [[1], [2]],
        [
          [1, 1, 15],
          [2, 2, 15],
        ],
      );
      const rejected = await scoreCompletions(
        m,
        [[1], [2]],
        [
          [4, 7, 15],
          [5, 8, 15],
        ],
      );
      return chosen.map((c, i) => sum(c) - sum(rejected[i] as Float32Array));
    };
    const before = await margin(ref);
    const { history } = await trainKto({ config, model, ref, train });
    const first = history[0] as Record<string, number>;
    const last = history[history.length - 1] as Record<string, number>;
    expect(first["rewards/chosen"]).toBeCloseTo(0, 5); // policy = reference at step 1
    expect(first.kl).toBeCloseTo(0, 5);
    expect(last["rewards/chosen"]).toBeGreaterThan(0);
    expect(last["rewards/rejected"]).toBeLessThan(0);
    expect(last["rewards/margins"]).toBeGreaterThan(0.5);
    expect(last.loss).toBeLessThan(first.loss as number);
    for (const name of ["kl", "logps/chosen", "logps/rejected", "count/chosen", "count/rejected"]) expect(last).toHaveProperty([name]);
    // The desirable completion is now more likely than the undesirable one, by more than before.
    const after = await margin(model);
    for (const [i, m] of after.entries()) expect(m).toBeGreaterThan((before[i] as number) + 1);
    model.dispose();
    ref.dispose();
  });
});
