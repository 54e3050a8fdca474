/**
 * Hugging Face model directory → GGUF, for llama.cpp (the `llama:` provider).
 *
 * The architectures Precept loads, in the tensor names and layouts llama.cpp
 * expects (the conventions of its `convert_hf_to_gguf.py`):
 * - `llama`, `mistral` → GGUF arch `llama`: q/k projection rows reordered from
 *   the Hugging Face rotate-half layout back to interleaved pairs (llama.cpp's
 *   "normal" RoPE); llama3 RoPE scaling as a `rope_freqs.weight` tensor of
 *   per-frequency divisors, linear scaling as `rope.scaling.*` keys;
 * - `qwen2` → arch `qwen2` (NeoX-style RoPE: rows kept as they are; q/k/v biases);
 * - `gpt2` → arch `gpt2`: Conv1D weights [in, out] transposed to [out, in].
 * A tied LM head is left out (llama.cpp then uses the token embedding).
 * Weights are F32, or F16 for matrices (norms and biases stay F32, as llama.cpp's
 * converter keeps them). Score and value heads are not carried (GGUF holds the LM only).
 *
 * `cachedGguf` converts once per content: the file is named by a hash of the
 * weights, config and tokenizer files, under `$PRECEPT_GGUF_CACHE` or
 * `~/.cache/precept/gguf`, so a stage model written by a trainer is converted
 * the first time it is served and reused after.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { openTensors, type TensorSource } from "../engine/checkpoint.js";
import { f32, GgmlType, type GgufTensor, type GgufValue, str, u32, writeGguf } from "./gguf-file.js";
import { tokenizerMetadata } from "./gguf-tokenizer.js";
import type { Gpt2Config } from "./gpt2.js";
import { readJson } from "./json.js";
import type { LlamaConfig } from "./llama.js";
import { parseModelConfig } from "./model.js";
import { ropeInverseFrequencies } from "./rope.js";
import { loadTokenizer } from "./tokenizer.js";

export type GgufDtype = "f32" | "f16";

/** Bump when the converter's output changes, so cached files made by an older converter are not reused. */
const CONVERTER_VERSION = "precept-gguf-1";

/** Files whose content decides the GGUF file. */
const INPUT_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "chat_template.jinja"];

export function ggufCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PRECEPT_GGUF_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "precept", "gguf");
}

/** Content hash of what the conversion reads (sha256, hex). */
export function modelContentHash(dir: string, dtype: GgufDtype): string {
  const hash = createHash("sha256").update(`${CONVERTER_VERSION}\0${dtype}\0`);
  const weights = readdirSync(dir)
    .filter((f) => f.endsWith(".safetensors") || f === "model.safetensors.index.json")
    .sort();
  const chunk = Buffer.alloc(16 << 20);
  for (const name of [...INPUT_FILES, ...weights]) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    hash.update(`${name}\0`);
    const fd = openSync(path, "r");
    try {
      for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) hash.update(chunk.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** Rows of a q or k projection [heads·headDim, …] from rotate-half order to interleaved pairs, head by head. */
export function interleaveRopeRows(values: Float32Array, heads: number, cols: number): Float32Array {
  const rows = values.length / cols;
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(values.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const from = (h * headDim + j * half + i) * cols;
        out.set(values.subarray(from, from + cols), (h * headDim + 2 * i + j) * cols);
      }
  return out;
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] as number;
  return out;
}

type Plan = { arch: string; metadata: Map<string, GgufValue>; tensors: GgufTensor[] };

function llamaPlan(c: LlamaConfig, tensors: TensorSource, names: Map<string, string>, type: (shape: number[]) => GgmlType): Plan {
  const arch = c.model_type === "qwen2" ? "qwen2" : "llama";
  const interleave = arch === "llama"; // Qwen2 uses NeoX-style RoPE in llama.cpp: no reordering
  const d = c.hidden_size;
  const meta = new Map<string, GgufValue>([
    [`${arch}.context_length`, u32(c.max_position_embeddings)],
    [`${arch}.embedding_length`, u32(d)],
    [`${arch}.block_count`, u32(c.num_hidden_layers)],
    [`${arch}.feed_forward_length`, u32(c.intermediate_size)],
    [`${arch}.attention.head_count`, u32(c.num_attention_heads)],
    [`${arch}.attention.head_count_kv`, u32(c.num_key_value_heads)],
    [`${arch}.attention.key_length`, u32(c.head_dim)],
    [`${arch}.attention.value_length`, u32(c.head_dim)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(c.rms_norm_eps)],
    [`${arch}.rope.freq_base`, f32(c.rope_theta)],
    [`${arch}.rope.dimension_count`, u32(c.head_dim)],
    [`${arch}.vocab_size`, u32(c.vocab_size)],
  ]);
  const out: GgufTensor[] = [];
  const add = (hfName: string, ggufName: string, shape: number[], transform?: (v: Float32Array) => Float32Array) => {
    const stored = names.get(hfName) as string;
    out.push({
      name: ggufName,
      shape,
      type: type(shape),
      data: () => {
        const v = tensors.readFloat32(stored, shape);
        return transform ? transform(v) : v;
      },
    });
  };
  if (c.rope_scaling?.rope_type === "linear") {
    meta.set(`${arch}.rope.scaling.type`, str("linear"));
    meta.set(`${arch}.rope.scaling.factor`, f32(c.rope_scaling.factor));
  } else if (c.rope_scaling?.rope_type === "llama3") {
    // llama.cpp divides each base frequency by its factor: base / scaled, from the same function Precept's forward uses.
    const base = ropeInverseFrequencies(c.head_dim, c.rope_theta, null);
    const scaled = ropeInverseFrequencies(c.head_dim, c.rope_theta, c.rope_scaling);
    const factors = base.map((b, i) => b / (scaled[i] as number));
    out.push({ name: "rope_freqs.weight", shape: [factors.length], type: GgmlType.F32, data: () => factors });
  }
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  add("model.embed_tokens.weight", "token_embd.weight", [c.vocab_size, d]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    const b = `blk.${i}.`;
    const qRows = interleave ? (v: Float32Array) => interleaveRopeRows(v, c.num_attention_heads, v.length / q) : undefined;
    const kRows = interleave ? (v: Float32Array) => interleaveRopeRows(v, c.num_key_value_heads, v.length / kv) : undefined;
    add(`${p}input_layernorm.weight`, `${b}attn_norm.weight`, [d]);
    add(`${p}self_attn.q_proj.weight`, `${b}attn_q.weight`, [q, d], qRows);
    add(`${p}self_attn.k_proj.weight`, `${b}attn_k.weight`, [kv, d], kRows);
    add(`${p}self_attn.v_proj.weight`, `${b}attn_v.weight`, [kv, d]);
    if (c.attention_bias) {
      add(`${p}self_attn.q_proj.bias`, `${b}attn_q.bias`, [q], qRows);
      add(`${p}self_attn.k_proj.bias`, `${b}attn_k.bias`, [kv], kRows);
      add(`${p}self_attn.v_proj.bias`, `${b}attn_v.bias`, [kv]);
    }
    add(`${p}self_attn.o_proj.weight`, `${b}attn_output.weight`, [d, q]);
    add(`${p}post_attention_layernorm.weight`, `${b}ffn_norm.weight`, [d]);
    add(`${p}mlp.gate_proj.weight`, `${b}ffn_gate.weight`, [c.intermediate_size, d]);
    add(`${p}mlp.up_proj.weight`, `${b}ffn_up.weight`, [c.intermediate_size, d]);
    add(`${p}mlp.down_proj.weight`, `${b}ffn_down.weight`, [d, c.intermediate_size]);
  }
  add("model.norm.weight", "output_norm.weight", [d]);
  if (!c.tie_word_embeddings) add("lm_head.weight", "output.weight", [c.vocab_size, d]);
  return { arch, metadata: meta, tensors: out };
}

function gpt2Plan(c: Gpt2Config, tensors: TensorSource, names: Map<string, string>, type: (shape: number[]) => GgmlType): Plan {
  const d = c.n_embd;
  const inner = c.n_inner ?? 4 * d;
  const meta = new Map<string, GgufValue>([
    ["gpt2.context_length", u32(c.n_positions)],
    ["gpt2.embedding_length", u32(d)],
    ["gpt2.block_count", u32(c.n_layer)],
    ["gpt2.feed_forward_length", u32(inner)],
    ["gpt2.attention.head_count", u32(c.n_head)],
    ["gpt2.attention.layer_norm_epsilon", f32(c.layer_norm_epsilon)],
    ["gpt2.vocab_size", u32(c.vocab_size)],
  ]);
  const out: GgufTensor[] = [];
  /** `hfShape` is the stored shape; Conv1D weights [in, out] are written transposed. */
  const add = (hfName: string, ggufName: string, hfShape: number[], conv1d = false) => {
    const stored = names.get(hfName) as string;
    const shape = conv1d ? [hfShape[1] as number, hfShape[0] as number] : hfShape;
    out.push({
      name: ggufName,
      shape,
      type: type(shape),
      data: () => {
        const v = tensors.readFloat32(stored, hfShape);
        return conv1d ? transpose(v, hfShape[0] as number, hfShape[1] as number) : v;
      },
    });
  };
  add("transformer.wte.weight", "token_embd.weight", [c.vocab_size, d]);
  add("transformer.wpe.weight", "position_embd.weight", [c.n_positions, d]);
  for (let i = 0; i < c.n_layer; i++) {
    const p = `transformer.h.${i}.`;
    const b = `blk.${i}.`;
    add(`${p}ln_1.weight`, `${b}attn_norm.weight`, [d]);
    add(`${p}ln_1.bias`, `${b}attn_norm.bias`, [d]);
    add(`${p}attn.c_attn.weight`, `${b}attn_qkv.weight`, [d, 3 * d], true);
    add(`${p}attn.c_attn.bias`, `${b}attn_qkv.bias`, [3 * d]);
    add(`${p}attn.c_proj.weight`, `${b}attn_output.weight`, [d, d], true);
    add(`${p}attn.c_proj.bias`, `${b}attn_output.bias`, [d]);
    add(`${p}ln_2.weight`, `${b}ffn_norm.weight`, [d]);
    add(`${p}ln_2.bias`, `${b}ffn_norm.bias`, [d]);
    add(`${p}mlp.c_fc.weight`, `${b}ffn_up.weight`, [d, inner], true);
    add(`${p}mlp.c_fc.bias`, `${b}ffn_up.bias`, [inner]);
    add(`${p}mlp.c_proj.weight`, `${b}ffn_down.weight`, [inner, d], true);
    add(`${p}mlp.c_proj.bias`, `${b}ffn_down.bias`, [d]);
  }
  add("transformer.ln_f.weight", "output_norm.weight", [d]);
  add("transformer.ln_f.bias", "output_norm.bias", [d]);
  return { arch: "gpt2", metadata: meta, tensors: out };
}

/**
 * Converts the Hugging Face model directory `dir` into a GGUF file at `out`
 * (written to a temporary name, then renamed). Errors name the directory and
 * what is missing or unsupported.
 */
export async function convertToGguf(dir: string, out: string, options: { dtype?: GgufDtype } = {}): Promise<void> {
  const dtype = options.dtype ?? "f32";
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath)) {
    const adapter = existsSync(join(dir, "adapter_config.json"));
    throw new Error(
      adapter
        ? `${dir} is a LoRA adapter: GGUF conversion needs a full model; merge it first (loadModel, mergeLora, saveModel) and use the merged directory`
        : `${dir}: no config.json (is this a Hugging Face model directory?)`,
    );
  }
  const raw = readJson(configPath) as { model_type?: unknown };
  if (!["gpt2", "llama", "mistral", "qwen2"].includes(String(raw?.model_type))) {
    throw new Error(
      `${configPath}: model_type ${JSON.stringify(raw?.model_type)} cannot be converted to GGUF (supported: gpt2, llama, mistral, qwen2); use the local: provider for it`,
    );
  }
  const { arch, config } = parseModelConfig(raw, configPath);
  if (!existsSync(join(dir, "tokenizer.json")))
    throw new Error(`${dir}: no tokenizer.json; the llama: provider needs the model's tokenizer`);
  const tokenizer = await loadTokenizer(dir);
  const tokenizerJson = readJson(join(dir, "tokenizer.json")) as Parameters<typeof tokenizerMetadata>[0];
  const tensors = openTensors(dir);
  try {
    const names = new Map<string, string>();
    for (const name of tensors.names()) {
      const canonical = arch.canonicalName(name, config);
      if (canonical !== null) names.set(canonical, name);
    }
    const missing = [...arch.expectedShapes(config).keys()].filter((n) => !names.has(n));
    if (missing.length > 0)
      throw new Error(`${tensors.path}: missing ${missing.length} tensor(s) this config needs: ${missing.slice(0, 5).join(", ")}`);
    const type = (shape: number[]) => (dtype === "f16" && shape.length > 1 ? GgmlType.F16 : GgmlType.F32);
    const plan =
      config.model_type === "gpt2"
        ? gpt2Plan(config as Gpt2Config, tensors, names, type)
        : llamaPlan(config as LlamaConfig, tensors, names, type);
    const dims = arch.dims(config);
    const metadata = new Map<string, GgufValue>([
      ["general.architecture", str(plan.arch)],
      ["general.name", str(dir.split(/[\\/]/).filter(Boolean).at(-1) ?? "model")],
      ["general.file_type", u32(dtype === "f16" ? 1 : 0)],
      ["general.alignment", u32(32)],
      ...plan.metadata,
      ...tokenizerMetadata(tokenizerJson, tokenizer, dims.vocabSize, join(dir, "tokenizer.json")),
    ]);
    const tmp = `${out}.${process.pid}.tmp`;
    try {
      writeGguf(tmp, metadata, plan.tensors);
      renameSync(tmp, out);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw error;
    }
  } finally {
    tensors.close();
  }
}

/** The GGUF file for a model directory, converted on first use and cached by content hash. */
export async function cachedGguf(
  dir: string,
  options: { dtype?: GgufDtype; cacheDir?: string } = {},
): Promise<{ path: string; converted: boolean }> {
  const dtype = options.dtype ?? "f32";
  if (!existsSync(dir)) throw new Error(`model directory ${dir} does not exist`);
  const cacheDir = options.cacheDir ?? ggufCacheDir();
  const path = join(cacheDir, `${modelContentHash(dir, dtype)}.gguf`);
  if (existsSync(path)) return { path, converted: false };
  mkdirSync(cacheDir, { recursive: true });
  await convertToGguf(dir, path, { dtype });
  return { path, converted: true };
}
