/** `precept cai revise|label` as a user runs them, including kill -9 in the middle and a rerun. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preceptArgs, runPrecept } from "../../test/helpers/cli.js";
import { saveTinyModel } from "../../test/helpers/tiny-model.js";
import { preferenceRowSchema, readJsonl } from "../data/dataset.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-cai-cli-"));
const model = join(tmp, "model");
const constitution = join(tmp, "c.yaml");
const prompts = join(tmp, "prompts.jsonl");
const N = 24;

function args(db: string, command: "revise" | "label", out: string): string[] {
  const common = ["--db", db, "--threads", "1", "cai", command, "--prompts", prompts, "--constitution", constitution];
  const shared = ["--policy", `local:${model}`, "--max-tokens", "6", "--concurrency", "4", "--lease", "1", "--run", "r"];
  return command === "revise"
    ? [...common, ...shared, "--revisions", "2", "--out", out]
    : [...common, ...shared, "--responses", "2", "--out", out];
}

function run(db: string, command: "revise" | "label", out: string) {
  return runPrecept(...args(db, command, out));
}

function counts(db: string): Record<string, number> {
  const sqlite = new Database(db, { readonly: true });
  const rows = sqlite.prepare("SELECT kind, COUNT(*) AS n FROM records GROUP BY kind").all() as { kind: string; n: number }[];
  const dupes = sqlite
    .prepare("SELECT COUNT(*) AS n FROM (SELECT run_id, kind, key FROM records GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)")
    .get() as { n: number };
  const done = sqlite.prepare("SELECT COUNT(*) AS n FROM work_items WHERE status = 'done'").get() as { n: number };
  sqlite.close();
  return { ...Object.fromEntries(rows.map((r) => [r.kind, r.n])), duplicates: dupes.n, done: done.n };
}

function recordCount(db: string): number {
  try {
    const sqlite = new Database(db, { readonly: true, fileMustExist: true });
    try {
      return (sqlite.prepare("SELECT COUNT(*) AS n FROM records").get() as { n: number }).n;
    } finally {
      sqlite.close();
    }
  } catch {
    return 0;
  }
}

/** Starts the command, kills it with SIGKILL once `atRecords` records are stored, and returns how many there were. */
async function killMidway(db: string, command: "revise" | "label", out: string, atRecords: number): Promise<number> {
  const child: ChildProcess = spawn(process.execPath, preceptArgs(...args(db, command, out)), { stdio: "ignore" });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  for (;;) {
    await new Promise((r) => setTimeout(r, 25));
    const n = recordCount(db);
    if (n >= atRecords) {
      child.kill("SIGKILL");
      await exited;
      return recordCount(db);
    }
    if (child.exitCode !== null) throw new Error(`${command} finished before it could be killed (${n} records)`);
  }
}

beforeAll(async () => {
  await saveTinyModel(model, { positions: 256, seed: 1 });
  writeFileSync(
    constitution,
    `name: cli-test
version: "1"
principles:
  - {id: privacy, critique: Does it leak data?, revision: Remove private data., compare: Which keeps data private?}
  - {id: kind, critique: Is it unkind at all?, revision: Make it kinder please., compare: Which one is kinder?}
`,
  );
  writeFileSync(prompts, Array.from({ length: N }, (_, i) => JSON.stringify({ prompt: `Question ${i}: what is ${i} + ${i}?` })).join("\n"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("precept cai (CLI)", () => {
  it("revise killed with SIGKILL and run again stores exactly the records of an uninterrupted run", async () => {
    const clean = run(join(tmp, "clean.db"), "revise", join(tmp, "clean"));
    expect(clean.code, clean.err).toBe(0);
    expect(clean.out).toMatch(new RegExp(`${N} done, 0 pending, 0 failed`));
    const expected = counts(join(tmp, "clean.db"));
    // prompt + first response + 2 critiques + 2 revisions per prompt (an untrained model never says "No problem").
    expect(expected).toEqual({ prompt: N, generation: N, critique: 2 * N, revision: 2 * N, duplicates: 0, done: N });

    const db = join(tmp, "killed.db");
    const atKill = await killMidway(db, "revise", join(tmp, "killed"), 40);
    expect(atKill).toBeLessThan(6 * N);
    const rerun = run(db, "revise", join(tmp, "killed"));
    expect(rerun.code, rerun.err).toBe(0);
    expect(counts(db)).toEqual(expected);
    expect(rerun.out).toMatch(/stored steps reused/);
  }, 240_000);

  it("label killed with SIGKILL and run again stores exactly the records of an uninterrupted run", async () => {
    const clean = run(join(tmp, "lclean.db"), "label", join(tmp, "lclean.jsonl"));
    expect(clean.code, clean.err).toBe(0);
    const expected = counts(join(tmp, "lclean.db"));
    expect(expected.done).toBe(N);
    expect(expected.generation).toBe(2 * N);
    const db = join(tmp, "lkilled.db");
    await killMidway(db, "label", join(tmp, "lkilled.jsonl"), 30);
    const rerun = run(db, "label", join(tmp, "lkilled.jsonl"));
    expect(rerun.code, rerun.err).toBe(0);
    expect(counts(db)).toEqual(expected);
    const labels = await readJsonl(join(tmp, "lkilled.jsonl"), preferenceRowSchema);
    expect(labels.length).toBe(expected.comparison);
    expect(labels.every((l) => l.label !== undefined && l.label >= 0.5 && l.label <= 1)).toBe(true);
    expect(rerun.out).toMatch(/labels by answer log-probs/);
  }, 240_000);

  it("--help explains the pipelines and a missing file is a clear error", () => {
    const help = runPrecept("cai", "label", "--help");
    expect(help.out).toMatch(/--cot/);
    expect(help.out).toMatch(/--clamp <lo,hi>/);
    const missing = runPrecept(
      "--db",
      join(tmp, "x.db"),
      "cai",
      "revise",
      "--prompts",
      join(tmp, "nope.jsonl"),
      "--constitution",
      constitution,
      "--policy",
      `local:${model}`,
    );
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.jsonl: no such file/);
  });
});
