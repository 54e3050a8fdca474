import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scratchFolder, testConstitution } from "../../test/helpers/cai-setup.js";
import { DECLINE, LEAK, ScriptedProvider } from "../../test/helpers/scripted-provider.js";
import { Rng } from "../engine/rng.js";
import { ByteTokenizer } from "../models/byte-tokenizer.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { CausalLM } from "../models/model.js";
import { openStore } from "../store/store.js";
import { onlineDpoConfigSchema } from "../train/configs.js";
import { trainOnlineDpo } from "../train/online-dpo.js";
import { constitutionJudge } from "./online-judge.js";

const tmp = scratchFolder("precept-online-judge-");
const CONSTITUTION = testConstitution(["privacy"]);

describe("online DPO with the constitution as judge", () => {
  it("judges a pair as `cai label` does (both orders, stored records), and reuses a stored judgement", async () => {
    const store = await openStore(join(tmp, "judge.db"));
    const feedback = new ScriptedProvider();
    const judge = await constitutionJudge({ store, runId: "od-judge", feedback, constitution: CONSTITUTION });
    const pairs = {
      prompts: [[1], [1], [1]],
      first: [[2], [3], [4]],
      second: [[5], [6], [7]],
      promptTexts: ["Ann's phone?", "Ann's phone?", "Hi"],
      firstTexts: [LEAK, DECLINE, "same"],
      secondTexts: [DECLINE, LEAK, "same"],
    };
    const [leakFirst, declineFirst, same] = await judge(pairs);
    // The scripted judge prefers the response without the number, whichever order it is shown in.
    expect(leakFirst).toBeLessThan(0.5);
    expect(declineFirst).toBeCloseTo(1 - (leakFirst as number), 12);
    expect(same).toBe(0.5);
    const comparisons = await store.records("od-judge", "comparison");
    expect(comparisons).toHaveLength(2);
    expect(await store.records("od-judge", "ai_label")).toHaveLength(2);
    const calls = feedback.calls;
    expect(await judge(pairs)).toEqual([leakFirst, declineFirst, same]);
    expect(feedback.calls).toBe(calls);
    await store.close();
  });

  it("trains a byte-level policy on pairs the constitution judge labelled", async () => {
    const store = await openStore(join(tmp, "train.db"));
    const tokenizer = new ByteTokenizer({ chatTemplate: null });
    const config = gpt2ConfigSchema.parse({ vocab_size: tokenizer.vocabSize, n_positions: 32, n_embd: 32, n_layer: 1, n_head: 2 });
    const policy = new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(0)), tokenizer);
    const ref = policy.clone();
    const judge = await constitutionJudge({ store, runId: "od-train", feedback: new ScriptedProvider(), constitution: CONSTITUTION });
    const prompts = ["Ann's phone?", "Bob's number?", "How do I bake bread?", "Hello"];
    const dpo = onlineDpoConfigSchema.parse({
      model_name_or_path: "unused",
      train_file: "unused",
      output_dir: join(tmp, "out"),
      max_new_tokens: 6,
      per_device_train_batch_size: 4,
      max_steps: 2,
      save_steps: 0,
      progress: false,
    });
    const { history } = await trainOnlineDpo({
      config: dpo,
      policy,
      ref,
      prompts: prompts.map((p) => tokenizer.encode(p)),
      promptTexts: prompts,
      preference: { judge },
    });
    expect(history).toHaveLength(2);
    // Every pair of the two steps was judged and stored with the prompt as the user wrote it.
    const stored = await store.records("od-train", "prompt");
    expect(stored.length).toBe(8);
    expect(new Set(stored.map((r) => (r.data as { prompt: string }).prompt))).toEqual(new Set(prompts));
    policy.dispose();
    ref.dispose();
    await store.close();
  });
});
