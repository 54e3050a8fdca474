/**
 * The GGUF converter on its own (no llama.cpp needed): metadata and tensor
 * layout for the sandbox GPT-2 and the real stories260K Llama, the q/k row
 * reordering, the content-hash cache, and the errors for what it cannot convert.
 * Agreement with the wasm engine through llama.cpp is in providers/llama.test.ts.
 */
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cachedGguf, convertToGguf, interleaveRopeRows, modelContentHash } from "./gguf.js";
import { readGgufMetadata } from "./gguf-file.js";
import { TokenType } from "./gguf-tokenizer.js";
import { readJson } from "./json.js";
import { loadTokenizer } from "./tokenizer.js";

const SANDBOX = new URL("../../models/sandbox-base/", import.meta.url).pathname;
const STORIES = new URL("../../../shared/real/models/stories260K/", import.meta.url).pathname;
const storiesPresent = existsSync(join(STORIES, "model.safetensors"));
if (!storiesPresent)
  console.warn(`gguf stories260K tests skipped: ${STORIES} is absent (the real files live beside the project, in ../shared/real)`);

const scratch = mkdtempSync(join(tmpdir(), "precept-gguf-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("GGUF conversion", () => {
  it("writes the sandbox GPT-2 with llama.cpp's names, transposed Conv1D weights and its byte-level BPE", async () => {
    const out = join(scratch, "sandbox.gguf");
    await convertToGguf(SANDBOX, out);
    const { metadata, tensors } = readGgufMetadata(out);
    expect(metadata.get("general.architecture")).toBe("gpt2");
    expect(metadata.get("gpt2.block_count")).toBe(4);
    expect(metadata.get("gpt2.embedding_length")).toBe(128);
    expect(metadata.get("gpt2.context_length")).toBe(256);
    expect(metadata.get("tokenizer.ggml.model")).toBe("gpt2");
    expect(metadata.get("tokenizer.ggml.pre")).toBe("gpt-2");
    const tokens = metadata.get("tokenizer.ggml.tokens") as string[];
    expect(tokens).toHaveLength(1024);
    expect(tokens[1023]).toBe("<|endoftext|>");
    expect((metadata.get("tokenizer.ggml.token_type") as number[])[1023]).toBe(TokenType.CONTROL);
    const json = readJson(join(SANDBOX, "tokenizer.json")) as { model: { merges: string[] } };
    expect(metadata.get("tokenizer.ggml.merges")).toEqual(json.model.merges);
    expect(metadata.get("tokenizer.ggml.eos_token_id")).toBe(1023);
    expect(metadata.get("tokenizer.ggml.add_bos_token")).toBe(false);
    const tokenizer = await loadTokenizer(SANDBOX);
    expect(metadata.get("tokenizer.chat_template")).toBe(tokenizer.chatTemplate);
    const byName = new Map(tensors.map((t) => [t.name, t]));
    expect(tensors).toHaveLength(2 + 4 * 12 + 2); // no output.weight: the head is tied
    expect(byName.get("token_embd.weight")?.dims).toEqual([128, 1024]); // ggml lists the innermost dimension first
    expect(byName.get("blk.0.attn_qkv.weight")?.dims).toEqual([128, 384]); // [out 384, in 128] after the transpose
    expect(byName.get("blk.3.ffn_down.weight")?.dims).toEqual([512, 128]);
  });

  it.skipIf(!storiesPresent)("writes stories260K as a Llama with a SentencePiece vocabulary, scores and byte tokens", async () => {
    const out = join(scratch, "stories.gguf");
    await convertToGguf(STORIES, out, { dtype: "f16" });
    const { metadata, tensors } = readGgufMetadata(out);
    expect(metadata.get("general.architecture")).toBe("llama");
    expect(metadata.get("general.file_type")).toBe(1);
    expect(metadata.get("llama.attention.head_count_kv")).toBe(4);
    expect(metadata.get("llama.rope.dimension_count")).toBe(8);
    expect(metadata.get("tokenizer.ggml.model")).toBe("llama");
    expect(metadata.get("tokenizer.ggml.add_space_prefix")).toBe(true);
    expect(metadata.get("tokenizer.ggml.add_bos_token")).toBe(true);
    expect(metadata.get("tokenizer.ggml.bos_token_id")).toBe(1);
    const tokens = metadata.get("tokenizer.ggml.tokens") as string[];
    const types = metadata.get("tokenizer.ggml.token_type") as number[];
    const scores = metadata.get("tokenizer.ggml.scores") as number[];
    expect(tokens).toHaveLength(512);
    expect(types[0]).toBe(TokenType.UNKNOWN);
    expect(types[1]).toBe(TokenType.CONTROL);
    expect(tokens[3 + 0x41]).toBe("<0x41>");
    expect(types[3 + 0x41]).toBe(TokenType.BYTE);
    // The first merge ("▁ t") makes the highest-scoring piece.
    const first = tokens.indexOf("▁t");
    expect(scores[first]).toBe(-0);
    expect(Math.max(...scores)).toBe(scores[first]);
    const byName = new Map(tensors.map((t) => [t.name, t]));
    expect(byName.get("blk.0.attn_q.weight")).toEqual({ name: "blk.0.attn_q.weight", dims: [64, 64], type: 1 });
    expect(byName.get("blk.0.attn_k.weight")?.dims).toEqual([64, 32]);
    expect(byName.get("blk.0.attn_norm.weight")?.type).toBe(0); // norms stay F32 in an F16 file
    expect(byName.has("output.weight")).toBe(false);
  });

  it("reorders q/k rows from rotate-half halves to interleaved pairs, head by head", () => {
    // Two heads of dim 4, one column: head h holds [x1_0, x1_1, x2_0, x2_1].
    const rows = Float32Array.from([10, 11, 20, 21, 30, 31, 40, 41]);
    expect([...interleaveRopeRows(rows, 2, 1)]).toEqual([10, 20, 11, 21, 30, 40, 31, 41]);
  });

  it("converts once per content: the same directory is a cache hit, changed weights are converted again", async () => {
    const dir = join(scratch, "copy");
    cpSync(SANDBOX, dir, { recursive: true });
    const cacheDir = join(scratch, "cache");
    const first = await cachedGguf(dir, { cacheDir });
    expect(first.converted).toBe(true);
    const again = await cachedGguf(dir, { cacheDir });
    expect(again).toEqual({ path: first.path, converted: false });
    expect(modelContentHash(dir, "f16")).not.toBe(modelContentHash(dir, "f32"));
    const config = readJson(join(dir, "config.json")) as Record<string, unknown>;
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, layer_norm_epsilon: 1e-6 }));
    const changed = await cachedGguf(dir, { cacheDir });
    expect(changed.converted).toBe(true);
    expect(changed.path).not.toBe(first.path);
  });

  it("names the file and the supported architectures for a model it cannot convert", async () => {
    const dir = join(scratch, "bert");
    cpSync(SANDBOX, dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "bert", vocab_size: 1024 }));
    await expect(convertToGguf(dir, join(scratch, "bert.gguf"))).rejects.toThrow(
      /bert[\\/]config\.json: model_type "bert" cannot be converted to GGUF \(supported: gpt2, llama, mistral, qwen2\)/,
    );
    const adapter = join(scratch, "adapter");
    cpSync(SANDBOX, adapter, { recursive: true });
    rmSync(join(adapter, "config.json"));
    writeFileSync(join(adapter, "adapter_config.json"), "{}");
    await expect(convertToGguf(adapter, join(scratch, "adapter.gguf"))).rejects.toThrow(/is a LoRA adapter.*merge it first/);
  });
});
