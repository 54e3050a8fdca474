/**
 * `npm run bench -- <suite>...`: runs benchmark suites, prints a table per
 * suite and writes JSON to bench/results/<suite>.json. Benchmarks are never
 * part of `npm test`; numbers on a shared machine are noisy, so each suite
 * measures what it compares side by side in the same run.
 */
const suites: Record<string, () => Promise<void>> = {
  engine: async () => (await import("./engine.js")).runEngineBench(),
  models: async () => (await import("./models.js")).runModelsBench(),
  train: async () => (await import("./train.js")).runTrainBench(),
  serve: async () => (await import("./serve.js")).runServeBench(),
  cai: async () => (await import("./cai.js")).runCaiBench(),
  eval: async () => (await import("./eval.js")).runEvalBench(),
  llama: async () => (await import("./llama.js")).runLlamaBench(),
  scale: async () => (await import("./scale.js")).runScaleBench(),
  "scale-wiring": async () => (await import("./scale-wiring.js")).runScaleWiringBench(),
  trainers: async () => (await import("./trainers.js")).runTrainersBench(),
  guard: async () => (await import("./guard.js")).runGuardBench(),
  store: async () => (await import("./store.js")).runStoreBench(),
};

const requested = process.argv.slice(2).filter((a) => !a.startsWith("-"));
if (requested.length === 0 || requested.includes("--help")) {
  console.log(`usage: npm run bench -- <suite>...   suites: ${Object.keys(suites).join(", ")}`);
  if (requested.length === 0) process.exitCode = 1;
}
for (const name of requested) {
  const suite = suites[name];
  if (!suite) {
    console.error(`unknown bench suite "${name}"; suites: ${Object.keys(suites).join(", ")}`);
    process.exitCode = 1;
    continue;
  }
  await suite();
}
