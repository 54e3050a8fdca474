/** `precept cai revise|label` as a user runs them, including kill -9 in the middle and a rerun. */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

function args(db: string, command: "revise" | "label", out: string, lease = "1"): string[] {
  const common = ["--db", db, "--threads", "1", "cai", command, "--prompts", prompts, "--constitution", constitution];
  const shared = ["--policy", `local:${model}`, "--max-tokens", "6", "--concurrency", "4", "--lease", lease, "--run", "r"];
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

/** Every record's content and provenance, with its parent named by key (ids differ from run to run). */
function recordContents(db: string): unknown[] {
  const sqlite = new Database(db, { readonly: true });
  const rows = sqlite
    .prepare(
      `SELECT r.kind, r.key, r.data, r.constitution_hash, r.principle_id, r.model_id, r.sampling, r.seed, p.kind AS parent_kind, p.key AS parent_key
       FROM records r LEFT JOIN records p ON p.id = r.parent_id ORDER BY r.kind, r.key`,
    )
    .all();
  sqlite.close();
  return rows;
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
async function killMidway(db: string, command: "revise" | "label", out: string, atRecords: number, lease = "1"): Promise<number> {
  const child: ChildProcess = spawn(process.execPath, preceptArgs(...args(db, command, out, lease)), { stdio: "ignore" });
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
    // Not only as many records: the same ones. Each row is sampled with its own stored seed,
    // whichever items it happened to be batched with before and after the kill.
    expect(recordContents(db)).toEqual(recordContents(join(tmp, "clean.db")));
  }, 240_000);

  it("after kill -9, the rerun takes the dead process's claims at once instead of waiting out a 10-minute lease", async () => {
    const db = join(tmp, "lease.db");
    await killMidway(db, "revise", join(tmp, "lease"), 20, "600");
    const started = Date.now();
    const rerun = runPrecept(...args(db, "revise", join(tmp, "lease"), "600"));
    expect(rerun.code, rerun.err).toBe(0);
    expect(rerun.out).toMatch(new RegExp(`${N} done, 0 pending, 0 failed`));
    expect(Date.now() - started).toBeLessThan(120_000);
  }, 240_000);

  it("revise interrupted mid-item at different steps continues with exactly the records of an uninterrupted run", () => {
    // An interruption leaves items at different steps; on the rerun, a batch then mixes items at
    // different steps (initial response, critique, revision), which must not change what each samples.
    const clean = join(tmp, "clean2.db");
    expect(run(clean, "revise", join(tmp, "clean2")).code).toBe(0);
    const db = join(tmp, "cut.db");
    copyFileSync(clean, db);
    const sqlite = new Database(db);
    const steps = ["initial", "r0/critique", "r0/revision", "r1/critique", "r1/revision"];
    const items = sqlite.prepare("SELECT id, key FROM work_items ORDER BY id").all() as { id: number; key: string }[];
    for (const [i, item] of items.entries()) {
      if (i % 7 === 6) continue; // some items stay done
      // Item i keeps its first i % 6 records (the prompt, then steps in order) and loses the rest.
      const lost = ["prompt", ...steps].slice(i % 6).map((s) => (s === "prompt" ? item.key : `${item.key}/${s}`));
      for (const key of lost) sqlite.prepare("DELETE FROM records WHERE key = ?").run(key);
      sqlite.prepare("UPDATE work_items SET status = 'pending', claimed_by = NULL, claim_expires_at = NULL WHERE id = ?").run(item.id);
    }
    sqlite.close();
    const rerun = run(db, "revise", join(tmp, "cut"));
    expect(rerun.code, rerun.err).toBe(0);
    expect(recordContents(db)).toEqual(recordContents(clean));
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

  it("numeric options are checked at the command line, naming the flag (--concurrency 0 used to hang)", () => {
    const base = [
      "--db",
      join(tmp, "n.db"),
      "cai",
      "revise",
      "--prompts",
      prompts,
      "--constitution",
      constitution,
      "--policy",
      `local:${model}`,
    ];
    for (const [flag, value, message] of [
      ["--concurrency", "0", /option '--concurrency <n>' argument '0' is invalid\. expected a whole number ≥ 1/],
      ["--temperature", "-1", /option '--temperature <t>' argument '-1' is invalid\. expected a number ≥ 0/],
      ["--lease", "0", /option '--lease <seconds>' argument '0' is invalid\. expected a number > 0/],
      ["--max-tokens", "1.5", /option '--max-tokens <n>' argument '1\.5' is invalid\. expected a whole number ≥ 1/],
      ["--retries", "-2", /option '--retries <n>' argument '-2' is invalid\. expected a whole number ≥ 0/],
    ] as const) {
      const result = runPrecept(...base, flag, value);
      expect(result.code, `${flag} ${value}`).toBe(1);
      expect(result.err).toMatch(message);
      expect(result.err).not.toMatch(/ZodError|"code":/);
    }
    // The same layer checks the global options and the other commands' numbers.
    expect(runPrecept("--threads", "0", "world", "prompts", "--out", join(tmp, "w")).err).toMatch(
      /option '--threads <n>' argument '0' is invalid\. expected a whole number ≥ 1/,
    );
    expect(runPrecept("world", "pretrain", "--steps", "1.5").err).toMatch(/option '--steps <n>' argument '1\.5' is invalid/);
    expect(runPrecept("annotate", "create-campaign", "--name", "x", "--overlap", "0").err).toMatch(
      /option '--overlap <n>' argument '0' is invalid\. expected a whole number ≥ 1 and ≤ 100/,
    );
  });

  it("an item that fails with an error a rerun cannot fix is not called retryable", () => {
    const file = join(tmp, "long.jsonl");
    // 300 bytes of prompt leave no room in the model's 256 positions: the same call fails every time.
    writeFileSync(file, [JSON.stringify({ prompt: "x".repeat(300) }), JSON.stringify({ prompt: "Question: 1 + 1?" })].join("\n"));
    const result = runPrecept(
      "--db",
      join(tmp, "long.db"),
      "--threads",
      "1",
      "cai",
      "revise",
      "--prompts",
      file,
      "--constitution",
      constitution,
      "--policy",
      `local:${model}`,
      "--max-tokens",
      "4",
      "--revisions",
      "1",
      "--out",
      join(tmp, "long"),
    );
    expect(result.code, result.err).toBe(2);
    expect(result.out).toMatch(/1 done, 1 pending, 0 failed/);
    expect(result.err).toMatch(/leaves no room in the model's 256 positions/);
    expect(result.err).toMatch(/1 item\(s\) failed with an error that running again will not fix/);
    expect(result.err).not.toMatch(/run the same command again/);
  }, 120_000);

  it("--retries 0 makes one HTTP attempt per request (it used to make 6)", async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "overloaded" } }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const file = join(tmp, "one.jsonl");
    writeFileSync(file, JSON.stringify({ prompt: "Question: 2 + 2?" }));
    const child = spawn(
      process.execPath,
      preceptArgs(
        "--db",
        join(tmp, "http.db"),
        "cai",
        "revise",
        "--prompts",
        file,
        "--constitution",
        constitution,
        "--policy",
        "openai:m",
        "--retries",
        "0",
        "--out",
        join(tmp, "http"),
      ),
      { env: { ...process.env, OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, OPENAI_API_KEY: "k" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let err = "";
    child.stderr?.on("data", (d) => (err += d));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    server.close();
    expect(code, err).toBe(2);
    expect(err).toMatch(/HTTP 503: overloaded/);
    expect(requests).toBe(1);
  }, 60_000);

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
