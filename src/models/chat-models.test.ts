/**
 * The shipped sandbox model chats in the Human/Assistant format it was trained on, and every model a
 * trainer writes from it (the quickstart's and `cai run`'s stage models, full or LoRA) keeps that
 * chat template and its stop strings.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { transcript } from "../cai/format.js";
import { sftExample } from "../data/examples.js";
import { initEngine } from "../engine/device.js";
import { sftConfigSchema } from "../train/configs.js";
import { trainSft } from "../train/sft.js";
import { HUMAN_ASSISTANT_STOP_STRINGS, HUMAN_ASSISTANT_TEMPLATE } from "./chat-template.js";
import { loadModel } from "./io.js";
import { loadTokenizer } from "./tokenizer.js";

const SANDBOX_BASE = new URL("../../models/sandbox-base", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "precept-chat-models-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const conversation = [
  { role: "user", content: "Can you tell me how to boil an egg?" },
  { role: "assistant", content: "Put it in boiling water for nine minutes." },
  { role: "user", content: "What is the best way to remove a stain?" },
  { role: "assistant", content: "Blot it with cold water, then wash it." },
];

describe("models/sandbox-base", () => {
  it("has the Human/Assistant chat template and stop strings, and EOS ends each exchange", async () => {
    const tokenizer = await loadTokenizer(SANDBOX_BASE);
    expect(tokenizer.chatTemplate).toBe(HUMAN_ASSISTANT_TEMPLATE);
    expect(tokenizer.stopStrings).toEqual(HUMAN_ASSISTANT_STOP_STRINGS);
    const [question] = conversation;
    expect(tokenizer.applyChatTemplate([question as (typeof conversation)[0]], { addGenerationPrompt: true })).toBe(
      transcript(question?.content ?? ""),
    );
    const ids = tokenizer.encode(tokenizer.applyChatTemplate(conversation.slice(0, 2)), { addSpecialTokens: false });
    expect(ids.at(-1)).toBe(tokenizer.eosTokenIds[0]);
  });

  it("turns a conversation into SFT tokens with the loss on the assistant replies and their EOS only", async () => {
    const tokenizer = await loadTokenizer(SANDBOX_BASE);
    const { ids, lossMask } = sftExample({ messages: conversation }, tokenizer, { maxLength: 256 });
    const trained = ids.filter((_, i) => lossMask[i] === 1);
    expect(tokenizer.decode(trained)).toBe(
      " Put it in boiling water for nine minutes.<|endoftext|> Blot it with cold water, then wash it.<|endoftext|>",
    );
  });
});

describe("models trained from models/sandbox-base", () => {
  for (const variant of ["full", "lora"] as const) {
    it(`keep the chat template and stop strings (${variant})`, async () => {
      await initEngine();
      const model = await loadModel(SANDBOX_BASE);
      const tokenizer = model.tokenizer;
      if (!tokenizer) throw new Error("no tokenizer");
      const output_dir = join(tmp, variant);
      const config = sftConfigSchema.parse({
        model_name_or_path: SANDBOX_BASE,
        train_file: "inline",
        output_dir,
        save_steps: 0,
        progress: false,
        max_steps: 1,
        per_device_train_batch_size: 1,
        ...(variant === "lora" ? { lora: { r: 2 } } : {}),
      });
      await trainSft({ config, model, train: [sftExample({ messages: conversation }, tokenizer, { maxLength: 256 })] });
      model.dispose();
      const trained = await loadModel(output_dir);
      expect(trained.tokenizer?.chatTemplate).toBe(HUMAN_ASSISTANT_TEMPLATE);
      expect(trained.tokenizer?.stopStrings).toEqual(HUMAN_ASSISTANT_STOP_STRINGS);
      if (variant === "full") {
        const generation = JSON.parse(readFileSync(join(output_dir, "generation_config.json"), "utf8"));
        expect(generation.stop_strings).toEqual(HUMAN_ASSISTANT_STOP_STRINGS);
        expect(JSON.parse(readFileSync(join(output_dir, "tokenizer_config.json"), "utf8")).chat_template).toBe(HUMAN_ASSISTANT_TEMPLATE);
      }
      trained.dispose();
    });
  }
});
