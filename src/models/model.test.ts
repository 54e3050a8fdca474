import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { saveTensors } from "../engine/checkpoint.js";
import { numpy as np } from "../engine/jax.js";
import { liveBuffers } from "../engine/live-buffers.js";
import { readFloats } from "../engine/ownership.js";
import { Rng } from "../engine/rng.js";
import { flattenNamed, treeRef, treeToHost } from "../engine/tree.js";
import { generateTokens } from "./generate.js";
import { loadModel, saveModel } from "./io.js";
import { fullInput, lmLogits, scoreHead, valueHead } from "./model.js";
import { scoreCompletions } from "./score.js";

const FIXTURES = new URL("../../test/fixtures/models/", import.meta.url).pathname;
const MODELS = ["gpt2-tiny", "llama-tiny", "qwen2-tiny", "llama3-rope-tiny", "llama-linear-rope-tiny"];
const tmp = mkdtempSync(join(tmpdir(), "precept-models-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Expected = {
  input_ids: number[][];
  logits: number[][][];
  left_padded: { input_ids: number[][]; attention_mask: number[][]; logits: number[][][] };
};
const expectedOf = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, "expected.json"), "utf8")) as Expected;

function maxAbsDiff(actual: Float32Array, expected: number[][][], keep?: (b: number, t: number) => boolean): number {
  let worst = 0;
  const t = (expected[0] as number[][]).length;
  const v = ((expected[0] as number[][])[0] as number[]).length;
  for (const [b, row] of expected.entries()) {
    for (const [i, logits] of row.entries()) {
      if (keep && !keep(b, i)) continue;
      for (const [j, want] of logits.entries()) worst = Math.max(worst, Math.abs((actual[(b * t + i) * v + j] as number) - want));
    }
  }
  return worst;
}

describe.each(MODELS)("%s against PyTorch golden logits", (name) => {
  it("matches on an unpadded batch (max abs diff ≤ 1e-4)", async () => {
    const model = await loadModel(join(FIXTURES, name));
    const expected = expectedOf(name);
    const { shape, data } = await model.logits(expected.input_ids);
    expect(shape).toEqual([2, expected.input_ids[0]?.length, 64]);
    expect(maxAbsDiff(data, expected.logits)).toBeLessThanOrEqual(1e-4);
    model.dispose();
  });

  it("matches on a left-padded batch at the real tokens", async () => {
    const model = await loadModel(join(FIXTURES, name));
    const { left_padded: padded } = expectedOf(name);
    const rows = padded.input_ids.map((row, b) => row.filter((_, t) => padded.attention_mask[b]?.[t] === 1));
    const { logits } = lmLogits(model, treeRef(model.params), fullInput(rows, 0, "left"));
    const data = await readFloats(logits);
    expect(maxAbsDiff(data, padded.logits, (b, t) => padded.attention_mask[b]?.[t] === 1)).toBeLessThanOrEqual(1e-4);
    model.dispose();
  });
});

describe("generation with a KV cache", () => {
  it("gives the log-probs a full forward pass gives (greedy, ragged batch, Llama with GQA)", async () => {
    const model = await loadModel(join(FIXTURES, "llama-tiny"));
    const prompts = [
      [5, 9, 14, 3, 22, 7, 40, 41, 42],
      [17, 3],
      [8, 8, 8, 8, 1],
    ];
    const generations = await generateTokens(model, prompts, { maxNewTokens: 12, temperature: 0, eosTokenIds: [] });
    const scored = await scoreCompletions(
      model,
      prompts,
      generations.map((g) => g.tokens),
    );
    generations.forEach((g, b) => {
      expect(g.tokens).toHaveLength(12);
      expect(g.finishReason).toBe("length");
      for (const [i, lp] of g.logprobs.entries()) expect(Math.abs(lp - (scored[b]?.[i] as number))).toBeLessThan(1e-4);
    });
    model.dispose();
  });

  it("a left-padded batch generates what each prompt generates alone (GPT-2, sampling with a seed)", async () => {
    const model = await loadModel(join(FIXTURES, "gpt2-tiny"));
    const prompts = [
      [5, 9, 14, 3, 22, 7],
      [17, 3, 30],
    ];
    const greedy = await generateTokens(model, prompts, { maxNewTokens: 8, temperature: 0, eosTokenIds: [] });
    for (const [b, prompt] of prompts.entries()) {
      const [alone] = await generateTokens(model, [prompt], { maxNewTokens: 8, temperature: 0, eosTokenIds: [] });
      expect(alone?.tokens).toEqual(greedy[b]?.tokens);
      for (const [i, lp] of (alone?.logprobs ?? []).entries()) expect(lp).toBeCloseTo(greedy[b]?.logprobs[i] as number, 4);
    }
    const a = await generateTokens(model, prompts, { maxNewTokens: 8, temperature: 1, topK: 10, topP: 0.9, seed: 3 });
    const again = await generateTokens(model, prompts, { maxNewTokens: 8, temperature: 1, topK: 10, topP: 0.9, seed: 3 });
    expect(again.map((g) => g.tokens)).toEqual(a.map((g) => g.tokens));
    model.dispose();
  });

  it("stops at an EOS id and keeps it; leaks no buffers across calls", async () => {
    const model = await loadModel(join(FIXTURES, "gpt2-tiny"));
    const [first] = await generateTokens(model, [[5, 9, 14]], { maxNewTokens: 6, temperature: 0, eosTokenIds: [] });
    const eos = first?.tokens[2] as number;
    const before = liveBuffers();
    const [stopped] = await generateTokens(model, [[5, 9, 14]], { maxNewTokens: 6, temperature: 0, eosTokenIds: [eos] });
    const firstEos = first?.tokens.indexOf(eos) as number;
    expect(stopped?.finishReason).toBe("eos");
    expect(stopped?.tokens).toEqual(first?.tokens.slice(0, firstEos + 1));
    expect(liveBuffers()).toBe(before);
    model.dispose();
  });

  it("rejects empty prompts, out-of-range ids and over-long requests with clear errors", async () => {
    const model = await loadModel(join(FIXTURES, "gpt2-tiny"));
    await expect(generateTokens(model, [[1, 2], []])).rejects.toThrow(/prompt 1 is empty/);
    await expect(generateTokens(model, [[1, 64]])).rejects.toThrow(
      /token id 64 at sequence 0, position 1 is out of range for a vocabulary of 64/,
    );
    await expect(generateTokens(model, [[1, 2]], { maxNewTokens: 40 })).rejects.toThrow(/exceeds the model's 32 positions/);
    await expect(model.logits([[1, -1]])).rejects.toThrow(/token id -1/);
    await expect(scoreCompletions(model, [[]], [[1]])).rejects.toThrow(/prompt 0 is empty/);
    model.dispose();
  });
});

describe("saving and loading", () => {
  it("save → load is bit-exact, single file and sharded", async () => {
    const model = await loadModel(join(FIXTURES, "qwen2-tiny"));
    const original = await treeToHost(model.params);
    for (const [dir, options] of [
      [join(tmp, "qwen-single"), {}],
      [join(tmp, "qwen-sharded"), { maxShardBytes: 20_000 }],
    ] as const) {
      await saveModel(model, dir, options);
      const reloaded = await loadModel(dir);
      const host = await treeToHost(reloaded.params);
      expect([...host.keys()]).toEqual([...original.keys()]);
      for (const [name, tensor] of original) {
        const saved = host.get(name)?.data as Float32Array;
        expect(new Uint8Array(saved.buffer)).toEqual(new Uint8Array(tensor.data.buffer));
      }
      expect(reloaded.config).toEqual(model.config);
      reloaded.dispose();
    }
    expect(statSync(join(tmp, "qwen-sharded", "model.safetensors.index.json")).isFile()).toBe(true);
    const config = JSON.parse(readFileSync(join(tmp, "qwen-single", "config.json"), "utf8"));
    expect(config.architectures).toEqual(["Qwen2ForCausalLM"]);
    model.dispose();
  });

  it("heads are saved with the model and read at the last real token", async () => {
    const model = await loadModel(join(FIXTURES, "gpt2-tiny"));
    model.addScoreHead(new Rng(1));
    model.addValueHead(new Rng(2));
    const rows = [
      [5, 9, 14, 3],
      [17, 3],
    ];
    const rewards = await readFloats(
      scoreHead(model, treeRef(model.params), fullInput(rows, 0, "right"), np.array([3, 1], { dtype: np.int32 })),
    );
    const alone = await readFloats(
      scoreHead(model, treeRef(model.params), fullInput([[17, 3]], 0, "right"), np.array([1], { dtype: np.int32 })),
    );
    expect(rewards[1]).toBeCloseTo(alone[0] as number, 5);
    const values = valueHead(model, treeRef(model.params), fullInput(rows, 0, "right"));
    expect(values.shape).toEqual([2, 4]);
    values.dispose();
    const dir = join(tmp, "with-heads");
    await saveModel(model, dir);
    const reloaded = await loadModel(dir);
    expect(reloaded.hasScoreHead && reloaded.hasValueHead).toBe(true);
    expect(flattenNamed(reloaded.params).map(([n]) => n)).toContain("v_head.summary.bias");
    model.dispose();
    reloaded.dispose();
  });
});

describe("bad checkpoints and configs name what is wrong", () => {
  const copy = (name: string) => {
    const dir = join(tmp, `${name}-${Math.random().toString(36).slice(2)}`);
    cpSync(join(FIXTURES, name), dir, { recursive: true });
    return dir;
  };

  it("a truncated safetensors file", async () => {
    const dir = copy("llama-tiny");
    truncateSync(join(dir, "model.safetensors"), 5000);
    await expect(loadModel(dir)).rejects.toThrow(new RegExp(`${dir}/model.safetensors: tensor ".*": offsets out of range`));
  });

  it("a config missing a field, and an unknown model_type", async () => {
    const dir = copy("llama-tiny");
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    delete config.hidden_size;
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    await expect(loadModel(dir)).rejects.toThrow(/config.json: invalid llama config: field "hidden_size"/);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, model_type: "mamba" }));
    await expect(loadModel(dir)).rejects.toThrow(/model_type "mamba" is not supported \(supported: gpt2, llama, mistral, qwen2\)/);
    writeFileSync(join(dir, "config.json"), "{ not json");
    await expect(loadModel(dir)).rejects.toThrow(/config.json: bad JSON/);
  });

  it("a checkpoint missing a tensor, or with a wrong shape", async () => {
    const dir = copy("gpt2-tiny");
    const model = await loadModel(dir);
    const host = [...(await treeToHost(model.params)).entries()];
    saveTensors(
      dir,
      host.filter(([n]) => n !== "transformer.h.1.mlp.c_fc.bias"),
    );
    await expect(loadModel(dir)).rejects.toThrow(/missing 1 tensor\(s\) that this gpt2 config needs: transformer.h.1.mlp.c_fc.bias/);
    saveTensors(
      dir,
      host.map(([n, t]) => (n === "transformer.ln_f.bias" ? [n, { shape: [2, 16], data: t.data }] : [n, t])),
    );
    await expect(loadModel(dir)).rejects.toThrow(/tensor "transformer.ln_f.bias": shape mismatch: expected \[32\], the file has \[2, 16\]/);
    model.dispose();
  });

  it("a directory that is not a model", async () => {
    mkdirSync(join(tmp, "empty"), { recursive: true });
    await expect(loadModel(join(tmp, "empty"))).rejects.toThrow(/no config.json/);
    await expect(loadModel(join(tmp, "nope"))).rejects.toThrow(/does not exist/);
  });
});

describe("hf: model ids", () => {
  it("load from the standard Hugging Face cache layout offline, and say so when a model is not cached", async () => {
    const cache = join(tmp, "hf-cache");
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const snapshot = join(cache, "models--tiny-org--gpt2-tiny", "snapshots", commit);
    cpSync(join(FIXTURES, "gpt2-tiny"), snapshot, { recursive: true });
    mkdirSync(join(cache, "models--tiny-org--gpt2-tiny", "refs"), { recursive: true });
    writeFileSync(join(cache, "models--tiny-org--gpt2-tiny", "refs", "main"), commit);
    const saved = { cache: process.env.HF_HUB_CACHE, offline: process.env.HF_HUB_OFFLINE };
    process.env.HF_HUB_CACHE = cache;
    process.env.HF_HUB_OFFLINE = "1";
    try {
      const model = await loadModel("hf:tiny-org/gpt2-tiny");
      expect(model.source).toBe(snapshot);
      const pinned = await loadModel(`hf:tiny-org/gpt2-tiny@${commit}`);
      expect(pinned.dims.vocabSize).toBe(64);
      await expect(loadModel("hf:tiny-org/not-there")).rejects.toThrow(
        /hf:tiny-org\/not-there is not in the Hugging Face cache .* HF_HUB_OFFLINE is set/,
      );
      await expect(loadModel("hf:not a valid id")).rejects.toThrow(/bad model id/);
      model.dispose();
      pinned.dispose();
    } finally {
      process.env.HF_HUB_CACHE = saved.cache;
      if (saved.offline === undefined) delete process.env.HF_HUB_OFFLINE;
      else process.env.HF_HUB_OFFLINE = saved.offline;
      if (saved.cache === undefined) delete process.env.HF_HUB_CACHE;
    }
  });
});
