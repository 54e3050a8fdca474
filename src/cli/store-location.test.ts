/**
 * `--db` is the store a command uses, over PRECEPT_DB and over a command's own
 * default (the quickstart's `<out>/precept.db`), through real `precept` processes.
 * The quickstart and `cai run` runs stop early at a missing base model, after
 * they opened their store: which file they opened is what is checked here.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preceptArgs } from "../../test/helpers/cli.js";
import { saveTinyModel } from "../../test/helpers/tiny-model.js";
import { openStore } from "../store/store.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-db-flag-"));
const missingModel = join(tmp, "no-such-model");
const TSX = pathToFileURL(fileURLToPath(new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url))).href;

/** Runs `precept ARGS` in `cwd` with PRECEPT_DB set to `envDb` (or unset). */
function precept(cwd: string, envDb: string | undefined, ...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, PRECEPT_THREADS: "1" };
  delete env.PRECEPT_DB;
  if (envDb) env.PRECEPT_DB = envDb;
  // `--import tsx` resolves from the working directory: name the loader by its path instead.
  const node = preceptArgs(...args).map((arg) => (arg === "tsx" ? TSX : arg));
  const result = spawnSync(process.execPath, node, { cwd, env, encoding: "utf8", timeout: 240_000 });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

function dir(name: string): string {
  const path = join(tmp, name);
  mkdirSync(path, { recursive: true });
  return path;
}

async function runIds(db: string): Promise<string[]> {
  const store = await openStore(db);
  try {
    return (await store.runs()).map((r) => r.id);
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  await saveTinyModel(join(tmp, "model"), { positions: 256, seed: 3 });
  writeFileSync(
    join(tmp, "c.yaml"),
    "name: t\nversion: '1'\nprinciples:\n  - {id: privacy, critique: Does it leak data?, revision: Remove private data., compare: Which keeps data private?}\n",
  );
  writeFileSync(join(tmp, "prompts.jsonl"), `${JSON.stringify({ prompt: "What is 2 + 2?" })}\n${JSON.stringify({ prompt: "Hi?" })}\n`);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("--db", () => {
  it("quickstart: an explicit --db is its store, even --db precept.db; without one, <out>/precept.db", () => {
    const quickstart = (cwd: string, envDb: string | undefined, ...db: string[]) =>
      precept(cwd, envDb, ...db, "quickstart", "--fast", "--out", "out", "--policy", missingModel);

    const given = dir("qs-given");
    const a = quickstart(given, undefined, "--db", join(given, "mine.db"));
    expect(a.code, a.err).toBe(1);
    expect(a.err).toContain(`${missingModel}: no such file or directory`);
    expect(existsSync(join(given, "mine.db"))).toBe(true);
    expect(existsSync(join(given, "out", "precept.db"))).toBe(false);

    // The value of the default, given explicitly, was once replaced by <out>/precept.db.
    const literal = dir("qs-literal");
    expect(quickstart(literal, undefined, "--db", "precept.db").code).toBe(1);
    expect(existsSync(join(literal, "precept.db"))).toBe(true);
    expect(existsSync(join(literal, "out", "precept.db"))).toBe(false);

    const fromEnv = dir("qs-env");
    expect(quickstart(fromEnv, join(fromEnv, "env.db")).code).toBe(1);
    expect(existsSync(join(fromEnv, "env.db"))).toBe(true);
    expect(existsSync(join(fromEnv, "out", "precept.db"))).toBe(false);

    const neither = dir("qs-default");
    expect(quickstart(neither, undefined).code).toBe(1);
    expect(existsSync(join(neither, "out", "precept.db"))).toBe(true);
    expect(existsSync(join(neither, "precept.db"))).toBe(false);
  });

  it("cai revise: --db over PRECEPT_DB; the records are in the --db store", async () => {
    const cwd = dir("cai-revise");
    const r = precept(
      cwd,
      join(cwd, "env.db"),
      "--db",
      join(cwd, "flag.db"),
      "cai",
      "revise",
      "--prompts",
      join(tmp, "prompts.jsonl"),
      "--constitution",
      join(tmp, "c.yaml"),
      "--policy",
      `local:${join(tmp, "model")}`,
      "--revisions",
      "1",
      "--max-tokens",
      "4",
      "--run",
      "db-flag",
      "--out",
      join(cwd, "out"),
    );
    expect(r.code, r.err).toBe(0);
    expect(await runIds(join(cwd, "flag.db"))).toContain("db-flag");
    expect(existsSync(join(cwd, "env.db"))).toBe(false);
    expect(existsSync(join(cwd, "precept.db"))).toBe(false);
  });

  it("annotate and store commands: --db over PRECEPT_DB", async () => {
    const cwd = dir("annotate");
    const added = precept(cwd, join(cwd, "env.db"), "--db", join(cwd, "flag.db"), "annotate", "add-user", "alice");
    expect(added.code, added.err).toBe(0);
    const listed = precept(cwd, join(cwd, "env.db"), "--db", join(cwd, "flag.db"), "store", "runs", "--json");
    expect(listed.code, listed.err).toBe(0);
    expect(JSON.parse(listed.out)).toEqual([]);
    const store = await openStore(join(cwd, "flag.db"));
    expect((await store.annotators()).map((a) => a.name)).toEqual(["alice"]);
    await store.close();
    expect(existsSync(join(cwd, "env.db"))).toBe(false);
    expect(existsSync(join(cwd, "precept.db"))).toBe(false);
  });

  it("cai run: --db is the recipe's store", () => {
    const cwd = dir("cai-run");
    writeFileSync(
      join(cwd, "recipe.json"),
      JSON.stringify({ constitution: join(tmp, "c.yaml"), base_model: missingModel, prompts: join(tmp, "prompts.jsonl"), out: "out" }),
    );
    const r = precept(cwd, join(cwd, "env.db"), "--db", join(cwd, "flag.db"), "cai", "run", "recipe.json");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${missingModel}: no such file or directory`);
    expect(existsSync(join(cwd, "flag.db"))).toBe(true);
    expect(existsSync(join(cwd, "env.db"))).toBe(false);
    expect(existsSync(join(cwd, "precept.db"))).toBe(false);
  });
});
