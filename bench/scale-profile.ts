/**
 * Where the time of a real-shape forward pass or training step goes, kernel
 * by kernel: runs it with eager jit (each kernel runs as it is reached, so a
 * kernel's dispatch time is its run time) under jax-js's kernel tracing, and
 * sums the time by kind: contractions (matmuls, reductions of ≥ 32 terms),
 * short reductions, layout copies (a kernel that only reads one input) and
 * other elementwise kernels, with the most expensive kernels and the time
 * outside kernels (tracing, compiling, the host), the first (compiling)
 * call's seconds, the profiled call's CPU seconds (all threads: far below
 * threads × wall means it waited) and whether matrix products ran on OpenBLAS.
 * Prints one JSON line. `vocab` replaces the shape's vocabulary, `top` lists
 * that many kernels (default 12), `full` with their whole expressions.
 *   node --import tsx bench/scale-profile.ts '{"shape":"smollm2-135m","what":"forward","batch":4,"seq":64}'
 *   node --import tsx bench/scale-profile.ts '{"shape":"smollm2-135m","layers":4,"what":"sft-full","batch":1,"seq":128}'
 *   node --import tsx bench/scale-profile.ts '{"shape":"gpt2-124m","layers":1,"vocab":50304,"what":"sft-full","batch":4,"seq":256,"top":30}'
 */
import { setEagerJit } from "../src/engine/eager-jit.js";
import { profiler } from "../src/engine/jax.js";
import { Rng } from "../src/engine/rng.js";
import { nativeMatmul } from "../src/engine/threads.js";
import { disposeTree } from "../src/engine/tree.js";
import { sftConfigSchema } from "../src/train/configs.js";
import { TrainerCore } from "../src/train/core.js";
import { trainSft } from "../src/train/sft.js";
import { type ShapeName, shapeModel } from "./scale-shapes.js";

type Probe = {
  shape: ShapeName;
  layers?: number;
  vocab?: number;
  what: "forward" | "sft-full" | "sft-lora";
  batch: number;
  seq: number;
  top?: number;
  full?: boolean;
};
const probe = JSON.parse(process.argv[2] ?? "{}") as Probe;
TrainerCore.prototype.save = async () => "";
TrainerCore.prototype.finish = async function (this: TrainerCore) {
  for (const slot of Object.values(this.optState.slots)) disposeTree(slot);
  this.optState = { ...this.optState, slots: {} };
};
const model = shapeModel(probe.shape, {
  ...(probe.layers ? { layers: probe.layers } : {}),
  ...(probe.vocab ? { vocab: probe.vocab } : {}),
});
const vocab = model.dims.vocabSize;
const rng = new Rng(1);
const row = () => Array.from({ length: probe.seq }, () => 1 + rng.int(vocab - 1));

async function once(): Promise<void> {
  if (probe.what === "forward") {
    await model.logits(Array.from({ length: probe.batch }, row));
    return;
  }
  const config = sftConfigSchema.parse({
    model_name_or_path: "bench",
    train_file: "bench",
    output_dir: `/tmp/precept-profile-${process.pid}`,
    save_steps: 0,
    progress: false,
    max_steps: 1,
    per_device_train_batch_size: probe.batch,
    ...(probe.what === "sft-lora" ? { lora: { r: 8, lora_alpha: 16 } } : {}),
  });
  const train = Array.from({ length: probe.batch }, () => {
    const ids = row();
    return { ids, lossMask: ids.map(() => 1) };
  });
  // PRECEPT_STAGED=1 keeps eager jit on through the trainer's own choice (and trains block by block).
  await trainSft({ config, model, train });
}

process.env.PRECEPT_STAGED ??= "1";
setEagerJit(true);
const firstStarted = performance.now();
await once(); // compile
const first = (performance.now() - firstStarted) / 1000;
performance.clearMeasures();
const started = performance.now();
const cpuBefore = process.cpuUsage();
profiler.startTrace();
await once();
profiler.stopTrace();
const wall = (performance.now() - started) / 1000;
// All threads' CPU time: well under threads × wall means the step waited (for workers, the OS, other processes).
const cpu = process.cpuUsage(cpuBefore);

type Kind = "contraction" | "short reduction" | "layout copy" | "elementwise" | "routine";
const byKind: Record<string, { seconds: number; kernels: number }> = {};
const byKernel = new Map<string, { kind: Kind; seconds: number; count: number; size: number; reduction: string }>();
for (const entry of performance.getEntriesByType("measure")) {
  const detail = (entry as unknown as { detail?: { devtools?: { properties?: [string, string][] } } | null }).detail;
  const props = new Map<string, string>(detail?.devtools?.properties ?? []);
  const exp = props.get("exp");
  const reduction = props.get("reduction") ?? "";
  const terms = Number(reduction.split(":")[1] ?? 0);
  let kind: Kind;
  if (exp === undefined) kind = "routine";
  else if (reduction) kind = terms >= 32 ? "contraction" : "short reduction";
  else
    kind = props.get("nargs") === "1" && !/[+*\-/]|Exp|Log|Max|Min|Where|Cast|Sin|Cos|Sqrt|Recip/.test(exp) ? "layout copy" : "elementwise";
  const seconds = entry.duration / 1000;
  const k = byKind[kind] ?? { seconds: 0, kernels: 0 };
  byKind[kind] = k;
  k.seconds += seconds;
  k.kernels++;
  const key = `${kind} ${entry.name} ${reduction} ${(exp ?? props.get("inputShapes") ?? "").slice(0, probe.full ? undefined : 160)}`;
  const item = byKernel.get(key) ?? { kind, seconds: 0, count: 0, size: Number(props.get("size") ?? 0), reduction };
  item.seconds += seconds;
  item.count++;
  byKernel.set(key, item);
}
const kernelSeconds = Object.values(byKind).reduce((a, k) => a + k.seconds, 0);
const top = [...byKernel.entries()]
  .sort((a, b) => b[1].seconds - a[1].seconds)
  .slice(0, probe.top ?? 12)
  .map(([key, v]) => ({ ...v, seconds: +v.seconds.toFixed(3), what: probe.full ? key : key.slice(0, 200) }));
const round = (o: Record<string, { seconds: number; kernels: number }>) =>
  Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k, { seconds: +v.seconds.toFixed(3), kernels: v.kernels, share: +(v.seconds / wall).toFixed(3) }]),
  );
console.log(
  JSON.stringify({
    ...probe,
    matmul: nativeMatmul.active ? "blas" : "wasm",
    firstSeconds: +first.toFixed(3),
    wallSeconds: +wall.toFixed(3),
    cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(3),
    kernelSeconds: +kernelSeconds.toFixed(3),
    outsideKernelsSeconds: +(wall - kernelSeconds).toFixed(3),
    kernels: Object.values(byKind).reduce((a, k) => a + k.kernels, 0),
    byKind: round(byKind),
    top,
  }),
);
process.exit(0);
