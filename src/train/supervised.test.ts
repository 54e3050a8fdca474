import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURE, lmLoss, SEQUENCES, toDevice, trainTinyLm } from "../../test/helpers/lm-training.js";
import { type Array as JaxArray, numpy as np } from "../engine/jax.js";
import { liveBuffers } from "../engine/live-buffers.js";
import { readFloats } from "../engine/ownership.js";
import { flattenNamed, treeToHost } from "../engine/tree.js";
import { loadModel } from "../models/io.js";
import { parseConfig, trainingConfigSchema } from "./config.js";
import { listCheckpoints, resolveResume, TrainerCore } from "./core.js";
import { runSupervised } from "./supervised.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-train-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("the shared training loop", () => {
  it("learns a memorizable set, logs TRL metric names and saves HF checkpoints", async () => {
    const out = join(tmp, "learn");
    const { history, model } = await trainTinyLm({ output_dir: out, max_steps: 40, save_steps: 20, logging_steps: 10 });
    expect(history[history.length - 1]?.loss).toBeLessThan((history[0]?.loss as number) * 0.5);
    const lines = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(4);
    expect(Object.keys(lines[0])).toEqual(expect.arrayContaining(["step", "epoch", "loss", "grad_norm", "learning_rate"]));
    expect(listCheckpoints(out)).toEqual([20, 40]);
    for (const file of ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"]) {
      expect(existsSync(join(out, "checkpoint-20", file))).toBe(true);
    }
    expect(existsSync(join(out, "model.safetensors"))).toBe(true);
    model.dispose();
  });

  it("resuming from a checkpoint reproduces the uninterrupted run", async () => {
    const full = await trainTinyLm({ output_dir: join(tmp, "full"), max_steps: 6, save_steps: 3 });
    const resumed = await trainTinyLm(
      { output_dir: join(tmp, "full-resumed"), max_steps: 6, save_steps: 3 },
      join(tmp, "full", "checkpoint-3"),
    );
    expect(resumed.history.map((h) => h.step)).toEqual([4, 5, 6]);
    expect(resumed.history.map((h) => h.loss)).toEqual(full.history.slice(3).map((h) => h.loss));
    const a = await treeToHost(full.model.params);
    const b = await treeToHost(resumed.model.params);
    for (const [name, tensor] of a) expect(b.get(name)?.data).toEqual(tensor.data);
    full.model.dispose();
    resumed.model.dispose();
  });

  it("stops at a non-finite loss naming the step, or skips the step when configured", async () => {
    // The second batch of every epoch carries a NaN scale, so step 2 has a NaN loss and gradient.
    const scaled = (model: Parameters<typeof lmLoss>[0]) => {
      const base = lmLoss(model);
      return (params: Parameters<ReturnType<typeof lmLoss>>[0], batch: ReturnType<typeof toDevice> & { scale: JaxArray }) => {
        const { loss } = base(params, { ids: batch.ids, targets: batch.targets });
        return { loss: loss.mul(batch.scale), metrics: {} };
      };
    };
    const batches = () =>
      [
        [SEQUENCES[0], SEQUENCES[1]],
        [SEQUENCES[2], SEQUENCES[3]],
      ] as number[][][];
    const device = (rows: number[][]) => ({ ...toDevice(rows), scale: np.array(rows[0] === SEQUENCES[2] ? Number.NaN : 1) });
    for (const nonfinite of ["error", "skip"] as const) {
      const model = await loadModel(FIXTURE);
      const config = parseConfig(trainingConfigSchema, {
        output_dir: join(tmp, `nan-${nonfinite}`),
        max_steps: 3,
        progress: false,
        nonfinite,
      });
      const core = new TrainerCore("lm-test", model, config, 3);
      const run = runSupervised({ core, lossFn: scaled(model), epochBatches: batches, toDevice: device });
      if (nonfinite === "error") {
        await expect(run).rejects.toThrow(/lm-test: step 2: loss is NaN; lower learning_rate, check the data, or set nonfinite: skip/);
      } else {
        const history = await run;
        expect(history.map((h) => Number.isFinite(h.loss))).toEqual([true, false, true]);
        const metrics = readFileSync(join(tmp, "nan-skip", "metrics.jsonl"), "utf8");
        expect(metrics).toContain('"skipped_nonfinite":1');
        for (const [, leaf] of flattenNamed(model.params)) expect(Number.isFinite((await readFloats(leaf.ref.sum()))[0])).toBe(true);
      }
      model.dispose();
    }
  });

  it("keeps at most save_total_limit checkpoints and finds the latest to resume", async () => {
    const out = join(tmp, "limit");
    const { model } = await trainTinyLm({ output_dir: out, max_steps: 8, save_steps: 2, save_total_limit: 2 });
    expect(listCheckpoints(out)).toEqual([6, 8]);
    expect(resolveResume("latest", out)).toBe(join(out, "checkpoint-8"));
    expect(() => resolveResume("latest", join(tmp, "nothing"))).toThrow(/no complete checkpoint/);
    model.dispose();
  });

  it("a process killed while writing a checkpoint leaves the previous one usable", async () => {
    const out = join(tmp, "killed");
    const child = spawn(
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL("../../test/helpers/train-child.ts", import.meta.url)), out],
      {
        env: { ...process.env, PRECEPT_CHECKPOINT_PAUSE_MS: "4000", PRECEPT_THREADS: "1" },
        stdio: "ignore",
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal === "SIGKILL" ? -9 : _code)));
    // Wait until the second checkpoint is being written (its temporary directory exists), then kill -9.
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (existsSync(out) && readdirSync(out).some((n) => n.startsWith("checkpoint-4.tmp-"))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    expect(await exited).toBe(-9);
    expect(listCheckpoints(out)).toEqual([2]);
    const resumed = await trainTinyLm({ output_dir: out, max_steps: 6, save_steps: 2 }, resolveResume("latest", out));
    expect(resumed.history.map((h) => h.step)).toEqual([3, 4, 5, 6]);
    expect(listCheckpoints(out)).toEqual([2, 4, 6]);
    resumed.model.dispose();
  });

  it("with LoRA trains only the adapter and leaves the base weights untouched; leaks nothing per step", async () => {
    const out = join(tmp, "lora");
    const before = await treeToHost((await loadModel(FIXTURE)).params);
    const live0 = liveBuffers();
    const { model, history, core } = await trainTinyLm({
      output_dir: out,
      max_steps: 12,
      save_steps: 0,
      lora: { r: 4, lora_alpha: 8 },
      learning_rate: 1e-2,
    });
    expect(history[history.length - 1]?.loss).toBeLessThan(history[0]?.loss as number);
    expect(flattenNamed(core.trainable).every(([n]) => n.includes(".lora_"))).toBe(true);
    const after = await treeToHost(model.params);
    for (const [name, tensor] of before) expect(after.get(name)?.data).toEqual(tensor.data);
    expect(existsSync(join(out, "adapter_config.json"))).toBe(true);
    model.dispose();
    for (const slot of Object.values(core.optState.slots)) for (const [, leaf] of flattenNamed(slot)) leaf.dispose();
    expect(liveBuffers() - live0).toBeLessThan(5);
  });
});
