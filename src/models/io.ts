/**
 * Loading and saving models as Hugging Face directories: `config.json`,
 * `model.safetensors` (or shards with an index), `generation_config.json` and
 * the tokenizer files. What `saveModel` writes, `transformers` loads with
 * `AutoModelForCausalLM.from_pretrained` (and, with a score head,
 * `AutoModelForSequenceClassification` with num_labels = 1).
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { openTensors, saveTensors, writeJsonAtomic } from "../engine/checkpoint.js";
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import type { HostTensor } from "../engine/safetensors.js";
import { type ParamTree, treeToHost, unflattenNamed } from "../engine/tree.js";
import { resolveHubModel } from "./hub.js";
import { readJson } from "./json.js";
import { loadAdapter } from "./lora.js";
import { CausalLM, parseModelConfig } from "./model.js";
import { loadTokenizer, saveTokenizer } from "./tokenizer.js";

const ARCHITECTURE_CLASS: Record<string, string> = {
  gpt2: "GPT2LMHeadModel",
  llama: "LlamaForCausalLM",
  mistral: "MistralForCausalLM",
  qwen2: "Qwen2ForCausalLM",
};

/** Optional heads: name → shape given the hidden size. */
function headShapes(hidden: number): Map<string, number[]> {
  return new Map([
    ["score.weight", [1, hidden]],
    ["v_head.summary.weight", [1, hidden]],
    ["v_head.summary.bias", [1]],
  ]);
}

/** Resolves `local:DIR`, `hf:Org/Name@rev` or a plain directory to a local directory. */
export async function resolveModelDir(id: string): Promise<string> {
  if (id.startsWith("hf:")) return resolveHubModel(id);
  return id.startsWith("local:") ? id.slice("local:".length) : id;
}

/**
 * Loads a model from a directory, `local:DIR` or `hf:Org/Name@revision`.
 * Missing tensors, wrong shapes, a bad config or an unsupported `model_type`
 * are errors that name the file and the tensor or field.
 */
export async function loadModel(id: string): Promise<CausalLM> {
  const dir = await resolveModelDir(id);
  if (!existsSync(dir)) throw new Error(`model directory ${dir} does not exist`);
  const configPath = join(dir, "config.json");
  const adapterPath = join(dir, "adapter_config.json");
  if (!existsSync(configPath) && existsSync(adapterPath)) {
    // A PEFT adapter directory: load its base model, then the adapter on top.
    const base = (readJson(adapterPath) as { base_model_name_or_path?: unknown }).base_model_name_or_path;
    if (typeof base !== "string" || base === "") throw new Error(`${adapterPath}: "base_model_name_or_path" must name the base model`);
    const model = await loadModel(base.startsWith("hf:") || existsSync(base) ? base : `hf:${base}`);
    loadAdapter(model, dir);
    return model;
  }
  if (!existsSync(configPath)) throw new Error(`${dir}: no config.json (is this a Hugging Face model directory?)`);
  const { arch, config } = parseModelConfig(readJson(configPath), configPath);
  const tensors = openTensors(dir);
  try {
    const byCanonical = new Map<string, string>();
    for (const name of tensors.names()) {
      const canonical = arch.canonicalName(name, config);
      if (canonical !== null) byCanonical.set(canonical, name);
    }
    const expected = arch.expectedShapes(config);
    const missing = [...expected.keys()].filter((name) => !byCanonical.has(name));
    if (missing.length > 0) {
      const shown = missing.slice(0, 5).join(", ") + (missing.length > 5 ? `, ... (${missing.length - 5} more)` : "");
      throw new Error(`${tensors.path}: missing ${missing.length} tensor(s) that this ${config.model_type} config needs: ${shown}`);
    }
    const heads = headShapes(arch.dims(config).hiddenSize);
    const unused: string[] = [];
    const leaves: [string, JaxArray][] = [];
    for (const [canonical, name] of byCanonical) {
      const shape = expected.get(canonical) ?? heads.get(canonical);
      if (!shape) {
        unused.push(name);
        continue;
      }
      leaves.push([canonical, np.array(tensors.readFloat32(name, shape)).reshape(shape)]);
    }
    if (unused.length > 0) {
      process.emitWarning(`${tensors.path}: ignored ${unused.length} tensor(s) this model does not use: ${unused.slice(0, 5).join(", ")}`);
    }
    const tokenizer = existsSync(join(dir, "tokenizer.json")) ? await loadTokenizer(dir) : null;
    return new CausalLM(arch, config, unflattenNamed(leaves), tokenizer, dir);
  } finally {
    tensors.close();
  }
}

/**
 * Saves a model as a Hugging Face directory (weights in float32; shards past
 * `maxShardBytes`). Each file is written to a temporary name and renamed.
 */
export async function saveModel(model: CausalLM, dir: string, options: { maxShardBytes?: number } = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const host = await treeToHost(model.params as ParamTree);
  const entries: [string, HostTensor][] = [...host.entries()];
  saveTensors(dir, entries, options.maxShardBytes ? { maxShardBytes: options.maxShardBytes } : {});
  const config = model.config as Record<string, unknown>;
  const architecture = ARCHITECTURE_CLASS[model.config.model_type];
  writeJsonAtomic(join(dir, "config.json"), {
    ...config,
    architectures: architecture ? [architecture] : undefined,
    torch_dtype: "float32",
  });
  const tokenizer = model.tokenizer;
  const generation: Record<string, unknown> = { _from_model_config: true };
  const bos = tokenizer?.bosTokenId ?? config.bos_token_id;
  const eos = tokenizer && tokenizer.eosTokenIds.length > 0 ? tokenizer.eosTokenIds : config.eos_token_id;
  if (bos !== undefined && bos !== null) generation.bos_token_id = bos;
  if (eos !== undefined && eos !== null) generation.eos_token_id = Array.isArray(eos) && eos.length === 1 ? eos[0] : eos;
  if (tokenizer?.padTokenId !== null && tokenizer?.padTokenId !== undefined) generation.pad_token_id = tokenizer.padTokenId;
  // The chat format's stop strings travel with the model, so every stage model stops its replies where the base did.
  if (tokenizer && tokenizer.stopStrings.length > 0) generation.stop_strings = [...tokenizer.stopStrings];
  writeJsonAtomic(join(dir, "generation_config.json"), generation);
  if (tokenizer) await saveTokenizer(tokenizer, dir);
}
