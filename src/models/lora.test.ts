import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Array as JaxArray, numpy as np, valueAndGrad } from "../engine/jax.js";
import { readFloats } from "../engine/ownership.js";
import { Rng } from "../engine/rng.js";
import { disposeTree, flattenNamed, type ParamTree, treeRef, unflattenNamed } from "../engine/tree.js";
import { loadModel } from "./io.js";
import { addLora, loadAdapter, mergeLora, mergeTrees, saveAdapter, splitLora } from "./lora.js";
import { type CausalLM, fullInput, lmLogits } from "./model.js";

const FIXTURES = new URL("../../test/fixtures/models/", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "precept-lora-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ROWS = [
  [5, 9, 14, 3, 22],
  [17, 3, 8, 40, 2],
];

async function logitsOf(model: CausalLM): Promise<Float32Array> {
  return readFloats(lmLogits(model, treeRef(model.params), fullInput(ROWS, 0)).logits);
}

/** Gives every lora_B a random value so the adapter changes the output. */
function perturbB(model: CausalLM, rng: Rng): void {
  model.params = unflattenNamed(
    flattenNamed(model.params).map(([name, leaf]): [string, JaxArray] =>
      name.includes("lora_B") ? [name, leaf.add(np.array(rng.normalArray(leaf.size, 0.2)).reshape(leaf.shape))] : [name, leaf],
    ),
  );
}

describe.each(["gpt2-tiny", "llama-tiny"])("LoRA on %s", (name) => {
  it("with B = 0 equals the base model, and merge equals the unmerged adapter", async () => {
    const model = await loadModel(join(FIXTURES, name));
    const base = await logitsOf(model);
    const config = addLora(model, { r: 4, lora_alpha: 8 }, new Rng(1));
    expect(config.target_modules).toEqual(name === "gpt2-tiny" ? ["c_attn"] : ["q_proj", "v_proj"]);
    expect(await logitsOf(model)).toEqual(base);
    perturbB(model, new Rng(2));
    const adapted = await logitsOf(model);
    const change = Math.max(...adapted.map((v, i) => Math.abs(v - (base[i] as number))));
    expect(change).toBeGreaterThan(1e-2);
    mergeLora(model);
    expect(flattenNamed(model.params).some(([n]) => n.includes("lora_"))).toBe(false);
    const merged = await logitsOf(model);
    const diff = Math.max(...merged.map((v, i) => Math.abs(v - (adapted[i] as number))));
    expect(diff).toBeLessThan(1e-4);
    model.dispose();
  });

  it("trains only the adapter: gradients reach A and B, the base stays frozen", async () => {
    const model = await loadModel(join(FIXTURES, name));
    addLora(model, { r: 2, lora_alpha: 4, lora_dropout: 0.1 }, new Rng(3));
    const { lora, base } = splitLora(model.params);
    const loss = (adapter: ParamTree, frozen: ParamTree) => lmLogits(model, mergeTrees(adapter, frozen), fullInput(ROWS, 0)).logits.mean();
    const [value, grads] = valueAndGrad(loss)(treeRef(lora), treeRef(base)) as [JaxArray, ParamTree];
    value.dispose();
    const names = flattenNamed(grads).map(([n]) => n);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((n) => n.includes(".lora_"))).toBe(true);
    // B starts at zero, so A's gradient is zero at first and B's is not.
    const bGrad = flattenNamed(grads).find(([n]) => n.includes("lora_B"))?.[1] as JaxArray;
    const norms = await readFloats(np.abs(bGrad.ref).sum());
    expect(norms[0]).toBeGreaterThan(0);
    disposeTree(grads);
    model.params = mergeTrees(lora, base);
    model.dispose();
  });
});

describe("PEFT adapter files", () => {
  it("save → load round trip, and loadModel on an adapter directory loads base + adapter", async () => {
    const baseDir = join(tmp, "llama-base");
    cpSync(join(FIXTURES, "llama-tiny"), baseDir, { recursive: true });
    const model = await loadModel(baseDir);
    addLora(model, { r: 4, lora_alpha: 16, target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"] }, new Rng(4));
    perturbB(model, new Rng(5));
    const expected = await logitsOf(model);
    const adapterDir = join(tmp, "adapter");
    await saveAdapter(model, adapterDir, baseDir);
    const config = JSON.parse(readFileSync(join(adapterDir, "adapter_config.json"), "utf8"));
    expect(config).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 16, base_model_name_or_path: baseDir, fan_in_fan_out: false });
    const reloaded = await loadModel(adapterDir);
    expect(reloaded.lora?.r).toBe(4);
    expect(await logitsOf(reloaded)).toEqual(expected);
    const plain = await loadModel(baseDir);
    expect(() => loadAdapter(plain, join(tmp, "nowhere"))).toThrow(/no adapter_config.json/);
    const gpt2 = await loadModel(join(FIXTURES, "gpt2-tiny"));
    expect(() => loadAdapter(gpt2, adapterDir)).toThrow(/does not adapt any weight of this base model/);
    for (const m of [model, reloaded, plain, gpt2]) m.dispose();
  });

  it("an unknown target module is an error", async () => {
    const model = await loadModel(join(FIXTURES, "llama-tiny"));
    expect(() => addLora(model, { target_modules: ["nonexistent"] }, new Rng(0))).toThrow(
      /no module matches target_modules \["nonexistent"\]/,
    );
    model.dispose();
  });
});
