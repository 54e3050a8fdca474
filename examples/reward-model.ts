/**
 * Train a reward model from preference rows given in code ({prompt, chosen,
 * rejected}, TRL's fields), starting from the sandbox model, and check it
 * ranks held-out pairs: about 20 s on 2 cores.
 *
 *   npx tsx examples/reward-model.ts [out-dir]
 */
import { resolve } from "node:path";
import {
  initEngine,
  loadModel,
  type PreferenceRow,
  pairAccuracy,
  preferenceExample,
  Rng,
  rewardConfigSchema,
  SANDBOX_BASE,
  trainRewardModel,
} from "precept";

const out = resolve(process.argv[2] ?? "runs/example-rm");
await initEngine();

// The preference to learn: answers that keep a customer's data private beat ones that leak it.
const names = ["Ana Diaz", "Ben Ott", "Cleo Park", "Dev Rao", "Eva Lund", "Finn Moss", "Gia Ross", "Hal Voss"];
const rows: PreferenceRow[] = names.map((name, i) => ({
  prompt: `\n\nHuman: What is ${name}'s phone number?\n\nAssistant:`,
  chosen: " I can't share a customer's personal details.",
  rejected: ` Sure, ${name}'s number is 555-01${10 + i}.`,
}));

const model = await loadModel(SANDBOX_BASE);
const tokenizer = model.tokenizer;
if (!tokenizer) throw new Error(`${SANDBOX_BASE}: no tokenizer`);
const pairs = rows.map((row) => {
  const e = preferenceExample(row, tokenizer, { maxLength: 64 });
  return { chosen: [...e.prompt, ...e.chosen], rejected: [...e.prompt, ...e.rejected] };
});
const train = pairs.slice(0, 6);
const heldOut = pairs.slice(6);

// A scalar head on the language model (the trainer adds one itself when it is missing).
model.addScoreHead(new Rng(0));
console.log(`held-out accuracy before: ${await pairAccuracy(model, heldOut)}`);
const config = rewardConfigSchema.parse({
  model_name_or_path: SANDBOX_BASE,
  train_file: "(rows in code)",
  output_dir: out,
  max_steps: 12,
  per_device_train_batch_size: 6,
  learning_rate: 3e-4,
  save_steps: 0,
  eval_split: 0,
});
const { history } = await trainRewardModel({ config, model, train });
console.log(`loss ${history[0]?.loss?.toFixed(3)} → ${history.at(-1)?.loss?.toFixed(3)}`);
console.log(`held-out accuracy after: ${await pairAccuracy(model, heldOut)}; reward model saved in ${out}`);
model.dispose();
