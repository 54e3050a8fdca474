import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tinyPolicy } from "../../test/helpers/tiny-policy.js";
import { numpy as np } from "../engine/jax.js";
import { readNumber } from "../engine/ownership.js";
import { Rng } from "../engine/rng.js";
import { dpoConfigSchema } from "./configs.js";
import { meanLogits, trainDpo } from "./dpo.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-dpo-variants-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("DPO loss types robust and hinge", () => {
  it("raise the reward margin on the toy preference set", async () => {
    for (const [lossType, labelSmoothing] of [
      ["robust", 0.1],
      ["hinge", 0],
    ] as const) {
      const { policy: model, ref } = tinyPolicy(3);
      const train = [1, 2, 3, 4, 6, 7, 8, 9].map((p) => ({ prompt: [p], chosen: [p, p, 15], rejected: [(p + 3) % 15, (p + 6) % 15, 15] }));
      const dpo = dpoConfigSchema.parse({
        model_name_or_path: "unused",
        train_file: "unused",
        save_steps: 0,
        progress: false,
        logging_steps: 1,
        output_dir: join(tmp, lossType),
        learning_rate: 5e-3,
        per_device_train_batch_size: 8,
        max_steps: 20,
        loss_type: lossType,
        label_smoothing: labelSmoothing,
      });
      const { history } = await trainDpo({ config: dpo, model, ref, train });
      const first = history[0] as Record<string, number>;
      const last = history[history.length - 1] as Record<string, number>;
      expect(first["rewards/margins"]).toBeCloseTo(0, 5);
      expect(last["rewards/margins"], lossType).toBeGreaterThan(0.1);
      expect(last["rewards/accuracies"]).toBe(1);
      expect(last.loss).toBeLessThan(first.loss as number);
      expect(Number.isFinite(last["logits/chosen"]) && Number.isFinite(last["logits/rejected"])).toBe(true);
      model.dispose();
      ref.dispose();
    }
  });
});

describe("DPO's logits/chosen and logits/rejected (TRL)", () => {
  it("are the mean raw logit over the vocabulary and the completion tokens, without forming the logits", async () => {
    const rng = new Rng(1);
    const [rows, length, d, vocab] = [4, 3, 5, 7];
    const hidden = Array.from({ length: rows * length * d }, () => rng.normal());
    const weight = Array.from({ length: vocab * d }, () => rng.normal());
    const mask = [1, 1, 0, 1, 0, 0, 1, 1];
    // By hand: every logit h_t · W_v of a masked token, averaged.
    const expected = (first: number) => {
      let sum = 0;
      let count = 0;
      for (let b = first; b < first + 2; b++) {
        for (let t = 0; t < length - 1; t++) {
          if (!mask[b * (length - 1) + t]) continue;
          for (let v = 0; v < vocab; v++) {
            let logit = 0;
            for (let k = 0; k < d; k++) logit += (hidden[(b * length + t) * d + k] as number) * (weight[v * d + k] as number);
            sum += logit;
            count++;
          }
        }
      }
      return sum / count;
    };
    const out = meanLogits(
      np.array(Float32Array.from(hidden)).reshape([rows, length, d]),
      np.array(Float32Array.from(weight)).reshape([vocab, d]),
      np.array(Float32Array.from(mask)).reshape([rows, length - 1]),
      2,
    );
    expect(await readNumber(out["logits/chosen"] as never)).toBeCloseTo(expected(0), 4);
    expect(await readNumber(out["logits/rejected"] as never)).toBeCloseTo(expected(2), 4);
  });
});
