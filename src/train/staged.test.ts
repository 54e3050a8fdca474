import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tinyLlama } from "../../test/helpers/tiny-policy.js";
import { type Array as JaxArray, jit, valueAndGrad } from "../engine/jax.js";
import { Rng } from "../engine/rng.js";
import { flattenNamed, type ParamTree, treeRef, unflattenNamed } from "../engine/tree.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { addLora } from "../models/lora.js";
import { CausalLM } from "../models/model.js";
import { dpoConfigSchema } from "./configs.js";
import { trainDpo } from "./dpo.js";
import { lmBatch, sftLossFn, sftTail } from "./sft.js";
import { rowInput, stagedStep } from "./staged.js";

function tinyGpt2(): CausalLM {
  const config = gpt2ConfigSchema.parse({ vocab_size: 97, n_positions: 32, n_embd: 16, n_layer: 2, n_head: 2, initializer_range: 0.3 });
  return new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(4)));
}

function split(model: CausalLM, lora: boolean): { trainable: ParamTree; frozen: ParamTree } {
  if (lora)
    addLora(
      model,
      { r: 2, target_modules: model.config.model_type === "gpt2" ? ["c_attn", "c_fc"] : ["q_proj", "v_proj", "down_proj"] },
      new Rng(5),
    );
  const all = flattenNamed(model.params);
  const trains = (n: string) => !lora || n.includes(".lora_");
  return { trainable: unflattenNamed(all.filter(([n]) => trains(n))), frozen: unflattenNamed(all.filter(([n]) => !trains(n))) };
}

async function flat(tree: ParamTree): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, leaf] of flattenNamed(tree)) out.set(name, (await leaf.data()) as Float32Array);
  return out;
}

describe("staged (block-by-block) training step", () => {
  for (const [arch, make] of [
    ["llama (qwen2, GQA, biases, tied)", () => tinyLlama(97)],
    ["gpt2", tinyGpt2],
  ] as const) {
    for (const lora of [false, true]) {
      it(`gives the loss and gradients of the whole jitted step: ${arch}, ${lora ? "LoRA" : "full"}`, async () => {
        const model = make();
        const { trainable, frozen } = split(model, lora);
        const rng = new Rng(9);
        const examples = [13, 9].map((n) => {
          const ids = Array.from({ length: n }, () => rng.int(97));
          return { ids, lossMask: ids.map((_, t) => (t > 2 ? 1 : 0)) };
        });
        const baseTrains = !lora;
        const lossFn = sftLossFn(model, { baseTrains });
        const whole = jit(
          valueAndGrad(
            (t: ParamTree, f: ParamTree, b: ReturnType<typeof lmBatch>) => {
              const { loss, metrics } = lossFn(unflattenNamed([...flattenNamed(t), ...flattenNamed(f)]), b);
              return [loss, metrics];
            },
            { hasAux: true },
          ),
        );
        const staged = stagedStep(model, sftTail(model, baseTrains), rowInput, baseTrains);
        const [[lossA, metricsA], gradsA] = whole(treeRef(trainable), treeRef(frozen), lmBatch(examples, 0) as never) as unknown as [
          [JaxArray, Record<string, JaxArray>],
          ParamTree,
        ];
        const [[lossB, metricsB], gradsB] = staged(treeRef(trainable), treeRef(frozen), lmBatch(examples, 0));
        expect((await lossB.data())[0]).toBeCloseTo((await lossA.data())[0] as number, 5);
        expect(await (metricsB.num_tokens as JaxArray).data()).toEqual(await (metricsA.num_tokens as JaxArray).data());
        const a = await flat(gradsA);
        const b = await flat(gradsB);
        expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
        let largest = 0;
        for (const [name, expected] of a) {
          const got = b.get(name) as Float32Array;
          expected.forEach((v, i) => {
            largest = Math.max(largest, Math.abs(v));
            expect(Math.abs((got[i] as number) - v), `${name}[${i}]`).toBeLessThan(1e-5 + 1e-4 * Math.abs(v));
          });
        }
        expect(largest).toBeGreaterThan(1e-3);
        whole.dispose();
        staged.dispose();
        model.dispose();
      });
    }
  }

  it("trains DPO block by block as in one jitted step (PRECEPT_STAGED forces each)", async () => {
    const rng = new Rng(11);
    const tokens = (n: number) => Array.from({ length: n }, () => rng.int(97));
    const train = Array.from({ length: 4 }, () => ({ prompt: tokens(5), chosen: tokens(4), rejected: tokens(6) }));
    const histories: Record<string, number>[][] = [];
    for (const staged of ["0", "1"]) {
      const dir = mkdtempSync(join(tmpdir(), "precept-staged-dpo-"));
      process.env.PRECEPT_STAGED = staged;
      try {
        const policy = tinyLlama(97);
        const config = dpoConfigSchema.parse({
          model_name_or_path: "x",
          train_file: "x",
          output_dir: dir,
          per_device_train_batch_size: 2,
          max_steps: 3,
          learning_rate: 1e-2,
          save_steps: 0,
          progress: false,
        });
        histories.push((await trainDpo({ config, model: policy, ref: policy.clone(), train })).history);
      } finally {
        delete process.env.PRECEPT_STAGED;
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const [whole, staged] = histories as [Record<string, number>[], Record<string, number>[]];
    expect(staged).toHaveLength(3);
    expect(whole[2]?.loss).not.toBeCloseTo(whole[0]?.loss as number, 3);
    for (const [i, record] of whole.entries()) {
      for (const key of ["loss", "grad_norm", "rewards/margins"]) {
        expect(Math.abs((staged[i]?.[key] as number) - (record[key] as number)), `step ${i + 1} ${key}`).toBeLessThan(1e-4);
      }
    }
  });
});
