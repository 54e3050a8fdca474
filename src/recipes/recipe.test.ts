/** `cai run`: the whole recipe on a tiny untrained model, then a rerun that skips every stage, then one changed setting. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saveTinyModel } from "../../test/helpers/tiny-model.js";
import { initEngine } from "../engine/device.js";
import { loadModel } from "../models/io.js";
import { openStore, type Store } from "../store/store.js";
import { loadRecipe, recipeDirs, runRecipe } from "./recipe.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-recipe-"));
let store: Store;
const quiet = { progress: false, logging_steps: 1, save_steps: 1000 };

function writeRecipe(rewardLr: number): string {
  const recipe = {
    constitution: "c.yaml",
    base_model: "base",
    prompts: "red.jsonl",
    helpful: "help.jsonl",
    out: "out",
    rl: "both",
    revise: { revisions: 1, max_tokens: 6, concurrency: 4 },
    label: { responses: 2, max_tokens: 6 },
    sft: { ...quiet, max_steps: 2, per_device_train_batch_size: 2, max_length: 128 },
    reward: { ...quiet, max_steps: 2, per_device_train_batch_size: 2, max_length: 128, learning_rate: rewardLr },
    ppo: { ...quiet, max_steps: 1, per_device_train_batch_size: 2, response_length: 4, num_ppo_epochs: 1 },
    dpo: { ...quiet, max_steps: 1, per_device_train_batch_size: 2, max_length: 128 },
  };
  writeFileSync(join(tmp, "recipe.json"), JSON.stringify(recipe));
  return join(tmp, "recipe.json");
}

beforeAll(async () => {
  await initEngine();
  await saveTinyModel(join(tmp, "base"), { positions: 256, seed: 2 });
  writeFileSync(
    join(tmp, "c.yaml"),
    "name: t\nversion: '1'\nprinciples:\n  - {id: privacy, critique: Does it leak data?, revision: Remove private data., compare: Which keeps data private?}\n",
  );
  writeFileSync(
    join(tmp, "red.jsonl"),
    ["Ann's phone?", "Bob's address?", "Carl's email?", "Dee's phone?"].map((p) => JSON.stringify({ prompt: p })).join("\n"),
  );
  writeFileSync(join(tmp, "help.jsonl"), ["Boil an egg?", "Tie a tie?"].map((p) => JSON.stringify({ prompt: p })).join("\n"));
  store = await openStore(join(tmp, "store.sqlite"));
});
afterAll(async () => {
  await store?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("precept cai run", () => {
  it("runs revise → SFT → label → RM → PPO and DPO, skips them all on a rerun, and reruns only what a changed setting affects", async () => {
    const log: string[] = [];
    const first = await runRecipe(writeRecipe(1e-5), store, { log: (l) => log.push(l) });
    expect(first.map((o) => `${o.name}:${o.status}`)).toEqual(["revise:ran", "sft:ran", "label:ran", "reward:ran", "ppo:ran", "dpo:ran"]);
    const dirs = recipeDirs(loadRecipe(join(tmp, "recipe.json")).out);
    for (const dir of [dirs.slCai, dirs.rm, dirs.ppo, dirs.dpo]) expect(existsSync(join(dir, "model.safetensors")), dir).toBe(true);
    expect((await loadModel(dirs.rm)).hasScoreHead).toBe(true);
    expect(readFileSync(join(dirs.revise, "sft.jsonl"), "utf8").trim().split("\n")).toHaveLength(6);

    const second = await runRecipe(writeRecipe(1e-5), store);
    expect(second.every((o) => o.status === "skipped")).toBe(true);

    // The same recipe as an object in code (paths made absolute): the same stages, so all up to date.
    const given = JSON.parse(readFileSync(writeRecipe(1e-5), "utf8"));
    const at = (p: string) => join(tmp, p);
    const fromCode = await runRecipe(
      {
        ...given,
        constitution: at(given.constitution),
        base_model: at(given.base_model),
        prompts: at(given.prompts),
        helpful: at(given.helpful),
        out: at(given.out),
      },
      store,
    );
    expect(fromCode.every((o) => o.status === "skipped")).toBe(true);

    const third = await runRecipe(writeRecipe(3e-5), store);
    expect(third.map((o) => `${o.name}:${o.status}`)).toEqual([
      "revise:skipped",
      "sft:skipped",
      "label:skipped",
      "reward:ran",
      "ppo:ran",
      "dpo:skipped",
    ]);
  }, 300_000);

  it("a revise stage that leaves prompts undone fails naming the stage, the count, the error and that a rerun will not fix it", async () => {
    // A prompt longer than the model's 256 positions: the item fails with an error that a rerun cannot fix.
    writeFileSync(
      join(tmp, "too-long.jsonl"),
      [JSON.stringify({ prompt: "Ann's phone? ".repeat(200) }), JSON.stringify({ prompt: "Hi?" })].join("\n"),
    );
    const recipe = join(tmp, "undone.json");
    const { helpful: _, ...given } = JSON.parse(readFileSync(writeRecipe(1e-5), "utf8"));
    writeFileSync(recipe, JSON.stringify({ ...given, prompts: "too-long.jsonl", out: "out-undone" }));
    await expect(runRecipe(recipe, store)).rejects.toThrow(
      /^revise: 1 prompt\(s\) not done \(.+\); running again will not fix this error: fix its cause first$/,
    );
  }, 120_000);

  it("a bad recipe names the file and the field", () => {
    writeFileSync(join(tmp, "bad.yaml"), "constitution: c.yaml\nbase_model: base\nprompts: red.jsonl\nout: out\nrl: sometimes\n");
    expect(() => loadRecipe(join(tmp, "bad.yaml"))).toThrow(/bad\.yaml: field "rl"/);
  });

  it("a bad recipe object names the field", async () => {
    const bad = { constitution: "c.yaml", base_model: "base", prompts: "red.jsonl", out: "out", rl: "sometimes" };
    await expect(runRecipe(bad as never, store)).rejects.toThrow(/recipe: field "rl"/);
  });
});
