/**
 * A real pretrained checkpoint nobody on this project wrote: llama2.c's stories260K in the Hugging
 * Face Llama layout, with its own SentencePiece-style BPE (byte fallback). The reference ids, logits
 * and greedy tokens come from an independent implementation (`expected.json`, see SOURCE.md there).
 * The files live beside the project in ../shared/real and are never copied into it: the tests skip
 * where they are absent.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { runServe } from "../cli/serve.js";
import { preferenceExample, sftExample } from "../data/examples.js";
import { initEngine } from "../engine/device.js";
import { dpoConfigSchema, rewardConfigSchema, sftConfigSchema } from "../train/configs.js";
import { trainDpo } from "../train/dpo.js";
import { trainRewardModel } from "../train/reward.js";
import { trainSft } from "../train/sft.js";
import { generateTokens } from "./generate.js";
import { loadModel } from "./io.js";
import type { CausalLM } from "./model.js";
import { scoreSequences } from "./score.js";

const DIR = new URL("../../../shared/real/models/stories260K/", import.meta.url).pathname;
const present = existsSync(join(DIR, "expected.json"));
if (!present) console.warn(`real-checkpoint tests skipped: ${DIR} is absent (the real files live beside the project, in ../shared/real)`);

type Expected = {
  prompt: string;
  prompt_ids: number[];
  prompt_tokens: string[];
  next_token_top5: { id: number; token: string; logit: number }[];
  next_token_logits_first8: number[];
  greedy_continuation_ids: number[];
  greedy_continuation_text: string;
};

async function lastLogits(model: CausalLM, ids: number[]): Promise<Float32Array> {
  const { shape, data } = await model.logits([ids]);
  const vocab = shape[2] as number;
  return data.slice((ids.length - 1) * vocab, ids.length * vocab);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe.skipIf(!present)("stories260K, a real Llama checkpoint with a SentencePiece tokenizer", () => {
  const expected = present ? (JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8")) as Expected) : ({} as Expected);

  it("tokenizes the prompt to the reference ids (with <s>) and reads its special tokens", async () => {
    const model = await loadModel(DIR);
    const tokenizer = model.tokenizer;
    if (!tokenizer) throw new Error("no tokenizer loaded");
    const ids = tokenizer.encode(expected.prompt);
    expect(ids).toEqual(expected.prompt_ids);
    expect(ids.map((id) => tokenizer.idToToken(id))).toEqual(expected.prompt_tokens);
    expect(tokenizer.vocabSize).toBe(model.dims.vocabSize);
    expect(tokenizer.bosTokenId).toBe(1);
    expect(tokenizer.eosTokenIds).toEqual([2]);
    model.dispose();
  });

  it("gives the reference next-token logits (max abs diff ≤ 1e-4) and the reference greedy 20 tokens", async () => {
    const model = await loadModel(DIR);
    const logits = await lastLogits(model, expected.prompt_ids);
    let worst = 0;
    expected.next_token_logits_first8.forEach((want, id) => {
      worst = Math.max(worst, Math.abs((logits[id] as number) - want));
    });
    for (const { id, logit } of expected.next_token_top5) worst = Math.max(worst, Math.abs((logits[id] as number) - logit));
    console.log(`stories260K: max abs logit difference from expected.json ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-4);
    // The reference's top 5 are our top 5, in order.
    const top5 = [...logits.keys()].sort((a, b) => (logits[b] as number) - (logits[a] as number)).slice(0, 5);
    expect(top5).toEqual(expected.next_token_top5.map((t) => t.id));

    // KV-cache decoding; the reference ran full forwards and did not stop at EOS.
    const [greedy] = await generateTokens(model, [expected.prompt_ids], { maxNewTokens: 20, temperature: 0, eosTokenIds: [] });
    expect(greedy?.tokens).toEqual(expected.greedy_continuation_ids);
    expect(greedy?.text).toBe(expected.greedy_continuation_text);
    model.dispose();
  });

  it("round-trips text through byte fallback (characters the 512-token vocabulary lacks)", async () => {
    const model = await loadModel(DIR);
    const tokenizer = model.tokenizer;
    if (!tokenizer) throw new Error("no tokenizer loaded");
    const byteToken = /^<0x[0-9A-F]{2}>$/;
    for (const text of ["Lily said: «héllo» to 日本 🤖!", "Tab\tand\nnewline, two  spaces.", "Once upon a time"]) {
      const ids = tokenizer.encode(text);
      expect(ids[0]).toBe(1);
      expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe(text);
      expect(tokenizer.decode(ids.slice(1))).toBe(text);
      if ([...text].some((c) => c.charCodeAt(0) > 127)) expect(ids.some((id) => byteToken.test(tokenizer.idToToken(id) ?? ""))).toBe(true);
    }
    // A lone byte of a multi-byte character is not valid UTF-8 on its own.
    const e = tokenizer.tokenToId("<0xC3>") as number;
    expect(tokenizer.decode([e])).toBe("\uFFFD");
    model.dispose();
  });
});

describe.skipIf(!present)("precept serve on stories260K", () => {
  it("completes the reference prompt with the reference greedy text, and says chat needs a template", async () => {
    const expected = JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8")) as Expected;
    const served = await runServe({ model: DIR, host: "127.0.0.1", port: 0 });
    try {
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${served.port}/v1`, apiKey: "unused", maxRetries: 0 });
      const request = { model: "stories260K", prompt: expected.prompt, temperature: 0, max_tokens: 20 };
      const completion = await client.completions.create(request);
      expect(completion.choices[0]?.text).toBe(expected.greedy_continuation_text);
      expect(completion.usage?.prompt_tokens).toBe(expected.prompt_ids.length);
      let streamed = "";
      for await (const chunk of await client.completions.create({ ...request, stream: true })) streamed += chunk.choices[0]?.text ?? "";
      expect(streamed).toBe(expected.greedy_continuation_text);
      await expect(client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "hi" }] })).rejects.toThrow(
        /no chat template/,
      );
    } finally {
      await served.close();
    }
  });
});

describe.skipIf(!present)("training stories260K: SFT, reward model and DPO, full and LoRA, then save and reload", () => {
  const tmp = mkdtempSync(join(tmpdir(), "precept-real-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const stories = [
    { prompt: "Once upon a time, there was a little dog", completion: " named Max. Max liked to run in the park." },
    { prompt: "Lily and Tom went to the beach.", completion: " They built a big sand castle and were happy." },
    { prompt: "The cat saw a red ball.", completion: " It played with the ball all day long." },
    { prompt: "One day, a little bird", completion: " flew up to the sky and sang a song." },
  ];
  const preferences = stories.map((s) => ({ prompt: s.prompt, chosen: s.completion, rejected: " The end. The end. The end." }));
  const common = { model_name_or_path: DIR, train_file: "inline", save_steps: 0, progress: false, logging_steps: 1, max_length: 64 };
  const lora = { r: 4, lora_alpha: 8 };
  const probe = [1, 403, 407, 261, 378, 432, 383, 286, 261];

  /** The trained model and the directory it was saved to give the same logits (and reward scores). */
  async function expectReloadsSame(trained: CausalLM, dir: string): Promise<void> {
    const reloaded = await loadModel(dir);
    expect(maxAbsDiff(await lastLogits(reloaded, probe), await lastLogits(trained, probe))).toBeLessThanOrEqual(1e-5);
    if (trained.hasScoreHead) {
      expect(reloaded.hasScoreHead).toBe(true);
      const [a, b] = [await scoreSequences(trained, [probe]), await scoreSequences(reloaded, [probe])];
      expect(Math.abs((a[0] as number) - (b[0] as number))).toBeLessThanOrEqual(1e-5);
    }
    expect(reloaded.tokenizer?.encode(expected)).toEqual(trained.tokenizer?.encode(expected));
    reloaded.dispose();
  }
  const expected = "Once upon a time «héllo»";

  async function changedFromBase(model: CausalLM): Promise<number> {
    const base = await loadModel(DIR);
    const diff = maxAbsDiff(await lastLogits(base, probe), await lastLogits(model, probe));
    base.dispose();
    return diff;
  }

  for (const variant of ["full", "lora"] as const) {
    const extra = variant === "lora" ? { lora } : {};

    it(`SFT (${variant}): the completion loss falls, and the saved directory reloads with the same logits`, async () => {
      await initEngine();
      const model = await loadModel(DIR);
      const tokenizer = model.tokenizer;
      if (!tokenizer) throw new Error("no tokenizer loaded");
      const train = stories.map((row) => sftExample(row, tokenizer, { maxLength: 64 }));
      // Prompt and completion tokenize as one text (no stray "▁" where they meet), with <s> first and </s> last.
      for (const [i, row] of stories.entries()) expect(train[i]?.ids).toEqual([...tokenizer.encode(row.prompt + row.completion), 2]);
      expect(train[0]?.ids[0]).toBe(1);
      const output_dir = join(tmp, `sft-${variant}`);
      const config = sftConfigSchema.parse({
        ...common,
        ...extra,
        output_dir,
        learning_rate: variant === "lora" ? 1e-2 : 3e-3,
        per_device_train_batch_size: 4,
        max_steps: 8,
      });
      const { history } = await trainSft({ config, model, train });
      const losses = history.map((h) => h.loss as number);
      console.log(`stories260K SFT ${variant}: loss ${losses.map((l) => l.toFixed(3)).join(" → ")}`);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses.at(-1) as number).toBeLessThan(losses[0] as number);
      expect(await changedFromBase(model)).toBeGreaterThan(1e-3);
      await expectReloadsSame(model, output_dir);
      model.dispose();
    });

    it(`reward model (${variant}): trains, and the saved directory reloads with the same scores and logits`, async () => {
      await initEngine();
      const model = await loadModel(DIR);
      const tokenizer = model.tokenizer;
      if (!tokenizer) throw new Error("no tokenizer loaded");
      const pairs = preferences.map((row) => {
        const p = preferenceExample(row, tokenizer, { maxLength: 64 });
        return { chosen: [...p.prompt, ...p.chosen], rejected: [...p.prompt, ...p.rejected] };
      });
      const output_dir = join(tmp, `rm-${variant}`);
      const config = rewardConfigSchema.parse({
        ...common,
        ...extra,
        output_dir,
        learning_rate: 1e-2,
        per_device_train_batch_size: 4,
        max_steps: 6,
      });
      const { history } = await trainRewardModel({ config, model, train: pairs });
      const losses = history.map((h) => h.loss as number);
      console.log(`stories260K RM ${variant}: loss ${losses.map((l) => l.toFixed(3)).join(" → ")}`);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses.at(-1) as number).toBeLessThan(losses[0] as number);
      await expectReloadsSame(model, output_dir);
      model.dispose();
    });

    it(`DPO (${variant}): the reward margin grows, and the saved directory reloads with the same logits`, async () => {
      await initEngine();
      const model = await loadModel(DIR);
      const ref = await loadModel(DIR);
      const tokenizer = model.tokenizer;
      if (!tokenizer) throw new Error("no tokenizer loaded");
      const train = preferences.map((row) => preferenceExample(row, tokenizer, { maxLength: 64 }));
      const output_dir = join(tmp, `dpo-${variant}`);
      const config = dpoConfigSchema.parse({
        ...common,
        ...extra,
        output_dir,
        learning_rate: variant === "lora" ? 1e-2 : 3e-3,
        per_device_train_batch_size: 4,
        max_steps: 6,
      });
      const { history } = await trainDpo({ config, model, ref, train });
      const margins = history.map((h) => h["rewards/margins"] as number);
      const losses = history.map((h) => h.loss as number);
      console.log(
        `stories260K DPO ${variant}: loss ${losses.map((l) => l.toFixed(3)).join(" → ")}, margin ${margins.map((m) => m.toFixed(3)).join(" → ")}`,
      );
      expect(margins[0]).toBeCloseTo(0, 5);
      expect(margins.at(-1) as number).toBeGreaterThan(0);
      expect(losses.at(-1) as number).toBeLessThan(losses[0] as number);
      await expectReloadsSame(model, output_dir);
      model.dispose();
      ref.dispose();
    });
  }
});
