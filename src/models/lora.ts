/**
 * LoRA (Hu et al. 2021): a frozen weight W plus a trainable low-rank update,
 * y = W·x + (α/r)·B·A·dropout(x), with A [r, in] and B [out, r] (B starts at
 * zero, so a fresh adapter leaves the model unchanged).
 *
 * The adapter weights live in the model's parameter tree next to the weight
 * they adapt (`...q_proj.lora_A.weight`, `...q_proj.lora_B.weight`), and every
 * projection in the architectures goes through `project`, which adds the
 * update when they are there. Saved and loaded in PEFT's layout
 * (`adapter_config.json`, `adapter_model.safetensors` with
 * `base_model.model.` names), so `peft.PeftModel.from_pretrained` reads it.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { openTensors, saveTensors, writeJsonAtomic } from "../engine/checkpoint.js";
import { type Array as JaxArray, numpy as np, random } from "../engine/jax.js";
import { conv1d, linear } from "../engine/nn.js";
import type { Rng } from "../engine/rng.js";
import { flattenNamed, type ParamTree, treeToHost, unflattenNamed } from "../engine/tree.js";
import { readJson } from "./json.js";
import type { CausalLM } from "./model.js";

export const loraConfigSchema = z.object({
  r: z.number().int().positive().default(8),
  lora_alpha: z.number().positive().default(16),
  lora_dropout: z.number().min(0).lt(1).default(0),
  /** Module names (matched as the last part of the module path, as PEFT does). Default: PEFT's per-architecture default. */
  target_modules: z.array(z.string().min(1)).optional(),
  use_rslora: z.boolean().default(false),
});
export type LoraConfig = z.output<typeof loraConfigSchema>;

/** PEFT's default targets (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
const DEFAULT_TARGETS: Record<string, string[]> = {
  gpt2: ["c_attn"],
  llama: ["q_proj", "v_proj"],
  mistral: ["q_proj", "v_proj"],
  qwen2: ["q_proj", "v_proj"],
};

/** Which layout a module's weight has: GPT-2's Conv1D is [in, out], everything else [out, in]. */
function isConv1d(modelType: string): boolean {
  return modelType === "gpt2";
}

export type LoraRuntime = {
  scale: number;
  /** Training only: dropout on the adapter input, with a fresh key per call. */
  dropout?: { rate: number; key: JaxArray };
};

export function loraScale(config: LoraConfig): number {
  return config.use_rslora ? config.lora_alpha / Math.sqrt(config.r) : config.lora_alpha / config.r;
}

let dropoutCounter = 0;

/**
 * A projection through `module` (a tree with `weight`, optional `bias`, and
 * optional `lora_A`/`lora_B`): `linear` for [out, in] weights, `conv1d` for
 * GPT-2's [in, out]. Consumes `x`, keeps `module`.
 */
export function project(module: ParamTree, x: JaxArray, layout: "linear" | "conv1d", lora?: LoraRuntime): JaxArray {
  const weight = (module.weight as JaxArray).ref;
  const bias = module.bias ? (module.bias as JaxArray).ref : null;
  const a = (module.lora_A as ParamTree | undefined)?.weight as JaxArray | undefined;
  const b = (module.lora_B as ParamTree | undefined)?.weight as JaxArray | undefined;
  if (!a || !b) return layout === "linear" ? linear(x, weight, bias) : conv1d(x, weight, bias);
  if (!lora) throw new Error("this model has LoRA weights but no LoRA settings (load the adapter with loadAdapter or addLora)");
  const base = layout === "linear" ? linear(x.ref, weight, bias) : conv1d(x.ref, weight, bias);
  let input = x;
  if (lora.dropout && lora.dropout.rate > 0) {
    const key = random.split(lora.dropout.key.ref, dropoutCounter++ + 2).slice(-1);
    const keep = random.bernoulli(key, 1 - lora.dropout.rate, input.shape);
    input = np.where(keep, input.div(1 - lora.dropout.rate), 0);
  }
  const update = linear(linear(input, a.ref), b.ref).mul(lora.scale);
  return base.add(update);
}

/** Module paths (e.g. `model.layers.0.self_attn.q_proj`) whose last part is a target and that have a 2-D weight. */
function targetModules(params: ParamTree, targets: string[]): string[] {
  return flattenNamed(params)
    .map(([name, leaf]) => [name, leaf] as const)
    .filter(([name, leaf]) => name.endsWith(".weight") && leaf.ndim === 2 && !name.includes(".lora_"))
    .map(([name]) => name.slice(0, -".weight".length))
    .filter((module) => targets.some((t) => module === t || module.endsWith(`.${t}`)));
}

/** Adds fresh LoRA weights to the target modules (A as PEFT's Kaiming-uniform, B zero). */
export function addLora(model: CausalLM, input: z.input<typeof loraConfigSchema>, rng: Rng): LoraConfig {
  const config = loraConfigSchema.parse(input);
  const targets = config.target_modules ?? DEFAULT_TARGETS[model.config.model_type] ?? [];
  const modules = targetModules(model.params, targets);
  if (modules.length === 0) throw new Error(`LoRA: no module matches target_modules ${JSON.stringify(targets)}`);
  const conv = isConv1d(model.config.model_type);
  const entries: [string, JaxArray][] = [];
  for (const module of modules) {
    const weight = flattenNamed(model.params).find(([n]) => n === `${module}.weight`)?.[1] as JaxArray;
    const [rows, cols] = weight.shape as [number, number];
    const [fanIn, fanOut] = conv ? [rows, cols] : [cols, rows];
    const bound = 1 / Math.sqrt(fanIn);
    const a = Float32Array.from({ length: config.r * fanIn }, () => (rng.uniform() * 2 - 1) * bound);
    entries.push(
      [`${module}.lora_A.weight`, np.array(a).reshape([config.r, fanIn])],
      [`${module}.lora_B.weight`, np.zeros([fanOut, config.r])],
    );
  }
  model.params = mergeTrees(model.params, unflattenNamed(entries));
  model.lora = { ...config, target_modules: targets };
  return model.lora;
}

/** Deep-merges two trees with disjoint leaves (consumes both). */
export function mergeTrees(a: ParamTree, b: ParamTree): ParamTree {
  return unflattenNamed([...flattenNamed(a), ...flattenNamed(b)]);
}

/** Splits a tree into its LoRA leaves and the rest (consumes it): train the first, freeze the second. */
export function splitLora(params: ParamTree): { lora: ParamTree; base: ParamTree } {
  const all = flattenNamed(params);
  return {
    lora: unflattenNamed(all.filter(([n]) => n.includes(".lora_"))),
    base: unflattenNamed(all.filter(([n]) => !n.includes(".lora_"))),
  };
}

/** Folds the adapters into the base weights (W += scale·B·A, transposed for Conv1D) and removes them. */
export function mergeLora(model: CausalLM): void {
  if (!model.lora) throw new Error("this model has no LoRA adapter to merge");
  const scale = loraScale(model.lora);
  const conv = isConv1d(model.config.model_type);
  const leaves = new Map(flattenNamed(model.params));
  const out: [string, JaxArray][] = [];
  for (const [name, leaf] of leaves) {
    if (name.includes(".lora_")) continue;
    const module = name.endsWith(".weight") ? name.slice(0, -".weight".length) : null;
    const a = module ? leaves.get(`${module}.lora_A.weight`) : undefined;
    const b = module ? leaves.get(`${module}.lora_B.weight`) : undefined;
    if (!a || !b) {
      out.push([name, leaf]);
      continue;
    }
    const delta = np.matmul(b, a).mul(scale);
    out.push([name, leaf.add(conv ? np.transpose(delta) : delta)]);
  }
  model.params = unflattenNamed(out);
  model.lora = null;
}

const PEFT_PREFIX = "base_model.model.";

/** Heads the base model does not have (a reward model's score, a value head): trained with the adapter, saved with it. */
const isHead = (name: string) => name.startsWith("score.") || name.startsWith("v_head.");

/** Saves only the adapter (and any score/value head, as PEFT's `modules_to_save`), in PEFT's layout. */
export async function saveAdapter(model: CausalLM, dir: string, baseModel = model.source ?? ""): Promise<void> {
  if (!model.lora) throw new Error("this model has no LoRA adapter to save");
  mkdirSync(dir, { recursive: true });
  // treeToHost keeps the arrays, so a tree view over the model's own LoRA leaves is enough.
  const leaves = flattenNamed(model.params).filter(([n]) => n.includes(".lora_") || isHead(n));
  const heads = [...new Set(leaves.filter(([n]) => isHead(n)).map(([n]) => n.slice(0, n.lastIndexOf("."))))];
  const host = await treeToHost(unflattenNamed(leaves));
  saveTensors(
    dir,
    [...host.entries()].map(([name, tensor]) => [`${PEFT_PREFIX}${name}`, tensor]),
    { base: "adapter_model" },
  );
  writeJsonAtomic(join(dir, "adapter_config.json"), {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseModel,
    r: model.lora.r,
    lora_alpha: model.lora.lora_alpha,
    lora_dropout: model.lora.lora_dropout,
    target_modules: model.lora.target_modules,
    use_rslora: model.lora.use_rslora,
    fan_in_fan_out: isConv1d(model.config.model_type),
    bias: "none",
    inference_mode: true,
    modules_to_save: heads.length > 0 ? heads : null,
  });
}

/**
 * Reads a PEFT LoRA adapter directory: its config and its weights under
 * Precept's names. `baseWeights` are the names of the base model's weights;
 * a tensor that adapts none of them is an error naming it.
 */
export function readAdapter(dir: string, baseWeights: Set<string>): { config: LoraConfig; leaves: [string, JaxArray][] } {
  const configPath = join(dir, "adapter_config.json");
  if (!existsSync(configPath)) throw new Error(`${dir}: no adapter_config.json (is this a PEFT adapter directory?)`);
  const raw = readJson(configPath) as Record<string, unknown>;
  if (raw.peft_type !== "LORA") throw new Error(`${configPath}: peft_type ${JSON.stringify(raw.peft_type)} is not supported (only LORA)`);
  const parsed = loraConfigSchema.safeParse({ ...raw, target_modules: Array.isArray(raw.target_modules) ? raw.target_modules : undefined });
  if (!parsed.success)
    throw new Error(`${configPath}: ${parsed.error.issues.map((i) => `field "${i.path.join(".")}": ${i.message}`).join("; ")}`);
  const tensors = openTensors(dir, "adapter_model");
  const leaves: [string, JaxArray][] = [];
  try {
    for (const stored of tensors.names()) {
      const name = (stored.startsWith(PEFT_PREFIX) ? stored.slice(PEFT_PREFIX.length) : stored).replace(".default.weight", ".weight");
      const match = /^(.*)\.lora_[AB]\.weight$/.exec(name);
      if (!isHead(name) && (!match || !baseWeights.has(`${match[1]}.weight`)))
        throw new Error(`${tensors.path}: tensor "${stored}" does not adapt any weight of this base model`);
      leaves.push([name, np.array(tensors.readFloat32(stored)).reshape(tensors.info(stored).shape)]);
    }
  } catch (error) {
    for (const [, leaf] of leaves) leaf.dispose();
    throw error;
  } finally {
    tensors.close();
  }
  return { config: parsed.data, leaves };
}

/** Reads a PEFT LoRA adapter into `model` (which must be its base model, without an adapter yet). */
export function loadAdapter(model: CausalLM, dir: string): LoraConfig {
  const base = new Set(
    flattenNamed(model.params)
      .map(([n]) => n)
      .filter((n) => !n.includes(".lora_")),
  );
  const { config, leaves } = readAdapter(dir, base);
  model.params = mergeTrees(model.params, unflattenNamed(leaves));
  model.lora = config;
  return config;
}
