/**
 * Align a model to a constitution from code: critique → revision on the
 * sandbox model, SFT on the revisions (the SL-CAI model), AI feedback labels
 * comparing it with the base model, then DPO on those labels. A tiny budget
 * (a few prompts, a few steps), so it runs in about a minute on 2 cores.
 *
 *   npx tsx examples/align-from-code.ts [out-dir]
 */
import { join, resolve } from "node:path";
import {
  dpoConfigSchema,
  initEngine,
  loadConstitution,
  openProvider,
  openStore,
  runDpo,
  runLabel,
  runRevise,
  runSft,
  SANDBOX_BASE,
  SANDBOX_CONSTITUTION,
  sftConfigSchema,
  writeSandboxPrompts,
} from "precept";

const out = resolve(process.argv[2] ?? "runs/example-align");
await initEngine();
const constitution = loadConstitution(SANDBOX_CONSTITUTION);
const prompts = writeSandboxPrompts(join(out, "data"), { seed: 0, perCategory: 1, evalPerCategory: 1 });
const store = await openStore(join(out, "precept.db"));
const base = await openProvider(`local:${SANDBOX_BASE}`);

// 1. Supervised CAI: the base model answers red-team prompts, critiques and revises its answers.
const revised = await runRevise({
  store,
  constitution,
  policy: base,
  prompts: prompts.redTeam,
  helpful: prompts.helpful,
  revisions: 1,
  maxTokens: 32,
  outDir: join(out, "revise"),
});
console.log(`revise: ${revised.sft.rows} SFT rows, ${(revised.revisedShare * 100).toFixed(0)}% of responses revised`);

// 2. SFT on the revised responses: the SL-CAI model, saved as a Hugging Face directory.
const slCai = join(out, "sl-cai");
await runSft(
  sftConfigSchema.parse({
    model_name_or_path: SANDBOX_BASE,
    train_file: revised.sft.path,
    output_dir: slCai,
    max_steps: 3,
    per_device_train_batch_size: 4,
    learning_rate: 5e-4,
    save_steps: 0,
  }),
  {},
);

// 3. AI feedback: the SL-CAI model's response against the base model's, judged under the constitution.
const policy = await openProvider(`local:${slCai}`);
const labels = await runLabel({
  store,
  constitution,
  policy,
  feedback: base,
  contrast: base,
  responses: 1,
  principles: 1,
  maxTokens: 32,
  prompts: prompts.rl,
  out: join(out, "label", "preferences.jsonl"),
});
console.log(`label: ${labels.pairs} preference pairs, mean confidence ${labels.meanConfidence.toFixed(3)}`);
policy.close?.();
base.close?.();
await store.close();

// 4. DPO from the SL-CAI model on the AI-labelled pairs.
await runDpo(
  dpoConfigSchema.parse({
    model_name_or_path: slCai,
    train_file: labels.out,
    output_dir: join(out, "dpo"),
    max_steps: 2,
    per_device_train_batch_size: 4,
    learning_rate: 5e-5,
    beta: 0.1,
    save_steps: 0,
  }),
  {},
);
console.log(`aligned model: ${join(out, "dpo")}`);
