/**
 * The CAI pipelines against any OpenAI-compatible server (vLLM, Ollama,
 * llama.cpp, OpenAI, or `precept serve`): critique → revision, then AI
 * feedback labels, every step kept in the store so a rerun continues.
 *
 *   precept serve --model models/sandbox-base --port 8000 &
 *   npx tsx examples/cai-openai.ts http://127.0.0.1:8000/v1 sandbox-base [out-dir]
 */
import { join, resolve } from "node:path";
import { loadConstitution, OpenAiProvider, openStore, runLabel, runRevise, SANDBOX_CONSTITUTION, writeSandboxPrompts } from "precept";

const [baseUrl, model, outArg] = process.argv.slice(2);
if (!baseUrl || !model) throw new Error("usage: cai-openai.ts BASE_URL MODEL [out-dir] (e.g. http://127.0.0.1:8000/v1 sandbox-base)");
const out = resolve(outArg ?? "runs/example-cai-openai");

const constitution = loadConstitution(SANDBOX_CONSTITUTION);
const prompts = writeSandboxPrompts(join(out, "data"), { seed: 0, perCategory: 1, evalPerCategory: 1 });
const store = await openStore(join(out, "precept.db"));
const provider = new OpenAiProvider({ baseUrl, model, maxRetries: 2 });
try {
  const revised = await runRevise({
    store,
    constitution,
    policy: provider,
    prompts: prompts.redTeam,
    revisions: 1,
    maxTokens: 32,
    concurrency: 4,
    outDir: join(out, "revise"),
  });
  console.log(`revise: ${revised.items.done}/${revised.prompts} prompts done, ${revised.calls} calls; SFT data in ${revised.sft.path}`);
  const labels = await runLabel({
    store,
    constitution,
    policy: provider,
    feedback: provider,
    responses: 2,
    principles: 1,
    maxTokens: 32,
    concurrency: 4,
    prompts: prompts.redTeam,
    out: join(out, "label", "preferences.jsonl"),
  });
  console.log(`label (${labels.method}): ${labels.pairs} pairs in ${labels.out}`);
} finally {
  await store.close();
}
