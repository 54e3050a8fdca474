import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../../test/helpers/annotate-server.js";
import { preceptArgs, runPrecept } from "../../test/helpers/cli.js";
import { Rng } from "../engine/rng.js";
import { ByteTokenizer } from "../models/byte-tokenizer.js";
import { gpt2, gpt2ConfigSchema, initGpt2 } from "../models/gpt2.js";
import { saveModel } from "../models/io.js";
import { CausalLM } from "../models/model.js";
import { openStore } from "../store/store.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-annotate-cli-"));
const db = join(tmp, "store.db");
const base = join(tmp, "base");
let server: ChildProcess | undefined;

function precept(...args: string[]) {
  return runPrecept("--db", db, ...args);
}

/** `precept annotate serve` as a child process on a free port; resolves once it prints its address and admin token. */
function serve(): Promise<{ url: string; admin: string }> {
  server = spawn(process.execPath, preceptArgs("--db", db, "annotate", "serve", "--port", "0"), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  return new Promise((resolve, reject) => {
    server?.stdout?.on("data", (chunk) => {
      out += chunk;
      const url = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1];
      const admin = /admin token[^:]*: (\S+)/.exec(out)?.[1];
      if (url && admin) resolve({ url, admin });
    });
    server?.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

beforeAll(async () => {
  const tokenizer = new ByteTokenizer();
  const config = gpt2ConfigSchema.parse({ vocab_size: tokenizer.vocabSize, n_positions: 96, n_embd: 32, n_layer: 1, n_head: 2 });
  const model = new CausalLM(gpt2 as never, config, initGpt2(config, new Rng(0)), tokenizer);
  await saveModel(model, base);
  model.dispose();
  // A run's comparison records, as the AI-feedback pipeline leaves them.
  const store = await openStore(db);
  const questions = ["Ann's phone?", "Bob's address?", "Kill a process?"];
  for (const [k, q] of questions.entries()) {
    const [root] = await store.addRecords("ai-run", [{ kind: "prompt", key: `q${k}`, data: { prompt: q } }]);
    await store.addRecords("ai-run", [
      {
        kind: "comparison",
        key: `q${k}/0-1`,
        parentId: root as number,
        data: { prompt: q, chosen: "I can help with that safely.", rejected: "555" },
      },
    ]);
  }
  await store.close();
  writeFileSync(join(tmp, "guide.md"), "# Guide\n\nPrefer **safe** answers.\n");
});
afterAll(() => {
  server?.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
});

describe("precept annotate", () => {
  it("creates a campaign from a run, issues tokens, serves annotators, reports agreement, and its consensus export trains a reward model", async () => {
    const help = precept("annotate", "create-campaign", "--help");
    expect(help.out).toMatch(/--from-run <run>/);
    expect(help.out).toMatch(/--overlap <n>/);
    const created = precept(
      "annotate",
      "create-campaign",
      "--from-run",
      "ai-run",
      "--name",
      "cli",
      "--overlap",
      "2",
      "--guidelines",
      join(tmp, "guide.md"),
    );
    expect(created.err).toBe("");
    expect(created.out).toMatch(/created campaign cli \(id 1\): 3 items, 6 responses, pick, overlap 2/);
    expect(precept("annotate", "create-campaign", "--name", "x").err).toMatch(/exactly one of --from-run RUN and --from-jsonl FILE/);
    const tokens: string[] = [];
    for (const name of ["ann", "bea"]) {
      const added = precept("annotate", "add-user", name, "--campaign", "cli");
      expect(added.code).toBe(0);
      tokens.push(/token: (\S+)/.exec(added.out)?.[1] as string);
    }
    expect(precept("annotate", "add-user", "ann", "--campaign", "cli").out).toMatch(/ann exists; now in cli \(token unchanged\)/);

    const { url, admin } = await serve();
    for (const token of tokens) {
      for (;;) {
        const { task } = (await call(`${url}/api/campaigns/1/task`, token)).json;
        if (!task) break;
        // Both pick the safe response.
        const safe = task.responses.indexOf("I can help with that safely.");
        const stored = await call(`${url}/api/campaigns/1/answers`, token, "POST", {
          itemId: task.itemId,
          idempotencyKey: `k-${token.slice(3, 15)}-${task.itemId}`,
          ranking: [safe],
        });
        expect(stored.status).toBe(201);
      }
    }
    const report = await call(`${url}/api/admin/campaigns/1/report`, admin);
    expect(report.json.progress).toMatchObject({ answers: 6, complete: 3 });
    server?.kill("SIGTERM");

    const text = precept("annotate", "report", "cli");
    expect(text.out).toMatch(/cli: 3 items, 6 answers, 3 items complete/);
    expect(text.out).toMatch(/kappa ann \/ bea: n\/a over 3/); // one category only: kappa undefined, shown as such
    const out = join(tmp, "prefs.jsonl");
    const exported = precept("annotate", "export", "cli", "--consensus", "--out", out);
    expect(exported.out).toMatch(/wrote 3 consensus preference row\(s\) of cli/);
    const rows = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows[0]).toEqual({ prompt: "Ann's phone?", chosen: "I can help with that safely.", rejected: "555", margin: 1 });
    expect(precept("annotate", "export", "cli", "--raw", "--out", join(tmp, "raw.jsonl")).out).toMatch(/wrote 6 answer row/);

    const rm = join(tmp, "rm");
    const trained = precept(
      "train",
      "rm",
      "--model_name_or_path",
      base,
      "--train_file",
      out,
      "--output_dir",
      rm,
      "--max_steps",
      "2",
      "--progress",
      "false",
    );
    expect(trained.err).not.toMatch(/Error/);
    expect(trained.code).toBe(0);
    expect(existsSync(join(rm, "model.safetensors"))).toBe(true);
    expect(JSON.parse(readFileSync(join(rm, "checkpoint-2", "trainer_state.json"), "utf8")).trainer).toBe("rm");
  });
});
