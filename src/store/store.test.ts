import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preceptArgs } from "../../test/helpers/cli.js";
import { storeEngines } from "../../test/helpers/store-engines.js";
import { expireDeadClaims, runWorkItems } from "../cai/runner.js";
import { OpenAiProvider } from "../providers/openai.js";
import { StoreCache } from "../providers/store-cache.js";
import { exportRecords, importRecords } from "./jsonl.js";
import { DEFAULT_STORE_LOCATION, openStore, type Store } from "./store.js";

const { tmp, engines } = storeEngines("precept-store-");

const worker = fileURLToPath(new URL("../../test/helpers/store-worker.ts", import.meta.url));

function runWorker(location: string, runId: string, name: string, leaseMs: number, delayMs = 1) {
  const child = spawn(process.execPath, ["--import", "tsx", worker, location, runId, name, String(leaseMs), String(delayMs)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const done = new Promise<{ code: number | null; signal: string | null; ids: number[]; err: string }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, ids: out.split("\n").filter(Boolean).map(Number), err })),
  );
  return { child, done, completed: () => out.split("\n").filter(Boolean).length };
}

describe.each(engines)("the %s store", (_name, location) => {
  let store: Store;
  let where: string;
  beforeAll(async () => {
    where = location();
    store = await openStore(where);
  });
  afterAll(async () => store.close());

  it("migrates idempotently and enqueues without duplicates", async () => {
    await store.migrate();
    await store.migrate();
    const run = `run-${Math.random()}`;
    expect(
      await store.enqueue(run, [
        { key: "a", kind: "generate" },
        { key: "b", kind: "generate", payload: { prompt: "hi" } },
      ]),
    ).toBe(2);
    expect(
      await store.enqueue(run, [
        { key: "b", kind: "generate" },
        { key: "c", kind: "critique" },
      ]),
    ).toBe(1);
    const items = await store.items(run);
    expect(items.map((i) => i.key)).toEqual(["a", "b", "c"]);
    expect(items[1]?.payload).toEqual({ prompt: "hi" });
    expect(await store.counts(run)).toEqual({ pending: 3, claimed: 0, done: 0, failed: 0 });
  });

  it("claims disjoint items, refuses a completion from a worker that lost its claim, and retries expired claims", async () => {
    const run = `run-${Math.random()}`;
    await store.enqueue(
      run,
      Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, kind: "x" })),
    );
    const a = await store.claim(run, "A", { limit: 2, leaseMs: 60_000 });
    const b = await store.claim(run, "B", { limit: 2, leaseMs: 60_000 });
    expect(a.map((i) => i.key)).toEqual(["k0", "k1"]);
    expect(b.map((i) => i.key)).toEqual(["k2", "k3"]);
    expect(await store.complete(a[0]?.id as number, "B", "wrong worker")).toBe(false);
    expect(await store.complete(a[0]?.id as number, "A", { ok: 1 })).toBe(true);
    expect(await store.complete(a[0]?.id as number, "A", { ok: 2 })).toBe(false); // done once
    // A short lease that lapses: the item is claimed again by C, and A's late completion is refused.
    const [short] = await store.claim(run, "A", { limit: 1, leaseMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const [again] = await store.claim(run, "C", { limit: 1, leaseMs: 60_000 });
    expect(again?.id).toBe(short?.id);
    expect(again?.attempts).toBe(2);
    expect(await store.complete(short?.id as number, "A", "late")).toBe(false);
    expect(await store.complete(again?.id as number, "C", "on time")).toBe(true);
    // Release: back to pending, or failed after maxAttempts.
    expect(await store.release(b[0]?.id as number, "B", "transient")).toBe(true);
    expect(await store.release(b[1]?.id as number, "B", "broken", 1)).toBe(true);
    const byKey = Object.fromEntries((await store.items(run)).map((i) => [i.key, i]));
    expect(byKey.k2?.status).toBe("pending");
    expect(byKey.k3).toMatchObject({ status: "failed", error: "broken" });
    expect(byKey.k0?.result).toEqual({ ok: 1 });
  });

  it("renews a claim for its holder only, so long work keeps its item", async () => {
    const run = `run-${Math.random()}`;
    await store.enqueue(run, [{ key: "long", kind: "x" }]);
    const [item] = await store.claim(run, "A", { limit: 1, leaseMs: 150 });
    expect(await store.renew([item?.id as number], "B", 60_000)).toBe(0);
    expect(await store.renew([item?.id as number], "A", 60_000)).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    // Past the first lease, but renewed: nobody else can take it.
    expect(await store.claim(run, "C", { limit: 1, leaseMs: 60_000 })).toEqual([]);
    expect(await store.complete(item?.id as number, "A", "done")).toBe(true);
    expect(await store.renew([item?.id as number], "A", 60_000)).toBe(0);
  });

  it("frees at once the claims of a dead process on this host, not those of another host", async () => {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid as number; // has exited: its pid is dead
    const run = `dead-${Math.random()}`;
    await store.enqueue(
      run,
      Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, kind: "work" })),
    );
    const lease = 600_000;
    await store.claim(run, "crashed", { limit: 2, leaseMs: lease, host: hostname(), pid: dead });
    await store.claim(run, "remote", { limit: 1, leaseMs: lease, host: "another-host", pid: dead });
    expect((await store.claimers(run)).sort((a, b) => a.worker.localeCompare(b.worker))).toEqual([
      { worker: "crashed", host: hostname(), pid: dead, items: 2 },
      { worker: "remote", host: "another-host", pid: dead, items: 1 },
    ]);
    expect(await expireDeadClaims(store, run)).toBe(2);
    expect((await store.claimers(run)).map((c) => c.worker)).toEqual(["remote"]);

    // The runner does it while waiting: with a 10-minute lease, a rerun after a crash finishes at once.
    const rerun = `dead-rerun-${Math.random()}`;
    await store.enqueue(rerun, [
      { key: "a", kind: "work" },
      { key: "b", kind: "work" },
    ]);
    await store.claim(rerun, "crashed", { limit: 2, leaseMs: lease, host: hostname(), pid: dead });
    const started = Date.now();
    const result = await runWorkItems({ store, runId: rerun, process: async () => "ok", leaseMs: lease });
    expect(result.processed).toBe(2);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await store.counts(rerun)).toMatchObject({ done: 2, claimed: 0 });
  }, 20_000);

  it("4 worker processes complete 1000 items exactly once, even when one is killed with SIGKILL mid-run", async () => {
    for (const kill of [false, true]) {
      const run = `run-${kill}-${Math.random()}`;
      await store.enqueue(
        run,
        Array.from({ length: 1000 }, (_, i) => ({ key: `item-${i}`, kind: "work", payload: i })),
      );
      // In the kill run, w0 works slowly (40 ms an item), so it always dies holding claims on part of a batch.
      const workers = ["w0", "w1", "w2", "w3"].map((name) => runWorker(where, run, name, 1500, kill && name === "w0" ? 40 : 1));
      if (kill) {
        const victim = workers[0] as ReturnType<typeof runWorker>;
        const deadline = Date.now() + 60_000;
        while (victim.completed() < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        victim.child.kill("SIGKILL");
      }
      const results = await Promise.all(workers.map((w) => w.done));
      for (const [i, r] of results.entries()) {
        if (kill && i === 0) expect(r.signal).toBe("SIGKILL");
        else expect(r).toMatchObject({ code: 0, err: "" });
      }
      // Each process prints the ids whose completion the store accepted (the victim may die between the
      // store accepting a completion and printing it, so the store is the ground truth for who did what).
      const accepted = results.flatMap((r) => r.ids);
      expect(new Set(accepted).size).toBe(accepted.length); // no item completed twice
      const items = await store.items(run);
      expect(await store.counts(run)).toEqual({ pending: 0, claimed: 0, done: 1000, failed: 0 }); // none lost
      const doneBy = new Map(items.map((i) => [i.id, (i.result as { by: string }).by]));
      for (const [w, r] of results.entries()) for (const id of r.ids) expect(doneBy.get(id)).toBe(`w${w}`);
      if (!kill) expect(accepted).toHaveLength(1000);
      if (kill) expect(items.some((i) => i.attempts > 1)).toBe(true); // the victim's claims expired and were retried
    }
  });
});

describe.each(engines)("records in the %s store", (_name, location) => {
  let store: Store;
  let where: string;
  beforeAll(async () => {
    where = location();
    store = await openStore(where);
  });
  afterAll(async () => store.close());

  it("keep provenance, add nothing twice, and export to TRL JSONL that imports back", async () => {
    const run = `records-${Math.random()}`;
    await store.putRun(run, "cai-revise", { rounds: 4 });
    await store.putConstitution("abc123", "general", "1.0", { principles: [{ id: "p1" }] });
    expect((await store.constitution("abc123"))?.content).toEqual({ principles: [{ id: "p1" }] });
    const provenance = { constitutionHash: "abc123", principleId: "p1", modelId: "local:tiny", sampling: { temperature: 0.7 }, seed: 3 };
    const [promptId] = await store.addRecords(run, [{ kind: "prompt", key: "q1", data: { prompt: "How do I pick a lock?" } }]);
    const ids = await store.addRecords(run, [
      {
        kind: "comparison",
        key: "q1-pair",
        parentId: promptId ?? null,
        data: { prompt: "How do I pick a lock?", chosen: "Call a locksmith.", rejected: "Use a pin.", label: 0.8 },
        ...provenance,
      },
      { kind: "comparison", key: "q2-pair", data: { prompt: "Q2", chosen: "a", rejected: "b" }, ...provenance },
    ]);
    // A restarted pipeline adds the same records again: same ids, no duplicates.
    expect(await store.addRecords(run, [{ kind: "comparison", key: "q1-pair", data: { changed: true } }])).toEqual([ids[0]]);
    const comparisons = await store.records(run, "comparison");
    expect(comparisons).toHaveLength(2);
    expect(comparisons[0]).toMatchObject({
      parentId: promptId,
      principleId: "p1",
      modelId: "local:tiny",
      sampling: { temperature: 0.7 },
      seed: 3,
    });
    const path = join(tmp, `${run}.jsonl`);
    expect(await exportRecords(store, run, "comparison", path)).toBe(2);
    const rows = readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows[0]).toMatchObject({
      prompt: "How do I pick a lock?",
      chosen: "Call a locksmith.",
      rejected: "Use a pin.",
      label: 0.8,
      provenance: { principle_id: "p1" },
    });
    const other = `${run}-copy`;
    expect(await importRecords(store, other, "comparison", path)).toHaveLength(2);
    await importRecords(store, other, "comparison", path);
    expect(await store.records(other, "comparison")).toHaveLength(2);
    await store.addMetrics(run, 1, { loss: 0.5 });
    expect(await store.metrics(run)).toEqual([{ step: 1, data: { loss: 0.5 } }]);
  });

  it("lists its runs, and exporting a run that is not there (or has no records of the kind) is an error, not an empty file", async () => {
    const run = `listed-${Math.random()}`;
    await store.putRun(run, "cai-revise", {});
    await store.addRecords(run, [{ kind: "prompt", key: "a", data: { prompt: "p" } }]);
    await store.addRecords(`imported-${run}`, [{ kind: "revision", key: "b", data: { prompt: "p", completion: "c" } }]);
    const runs = await store.runs();
    expect(runs.find((r) => r.id === run)).toMatchObject({ kind: "cai-revise", records: { prompt: 1 } });
    expect(runs.find((r) => r.id === `imported-${run}`)).toMatchObject({ kind: null, records: { revision: 1 } });
    const path = join(tmp, `nope-${Math.random()}.jsonl`);
    await expect(exportRecords(store, "nope", "revision", path)).rejects.toThrow(
      /there is no run "nope" in this store; `precept store runs` lists/,
    );
    await expect(exportRecords(store, run, "revision", path)).rejects.toThrow(
      /has no revision records \(it has 1 prompt\); nothing written/,
    );
    expect(existsSync(path)).toBe(false);
  });

  it("two stores of one location in one process write at once without waiting on each other's lock", async () => {
    // On SQLite they share the file's connection; with one each, this stalled for the busy timeout and failed "database is locked".
    const other = await openStore(where);
    const run = `two-stores-${Math.random()}`;
    await store.enqueue(
      run,
      Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, kind: "x" })),
    );
    const write = (s: Store, name: string) =>
      Array.from({ length: 20 }, async (_, i) => {
        await s.addRecords(run, [{ kind: "prompt", key: `${name}${i}`, data: { i } }]);
        return s.claim(run, name, { limit: 1, leaseMs: 60_000 });
      });
    const claimed = (await Promise.all([...write(store, "a"), ...write(other, "b")])).flat();
    await other.close();
    expect(await store.records(run)).toHaveLength(40);
    expect(new Set(claimed.map((i) => i.id)).size).toBe(40);
    expect(await store.counts(run)).toMatchObject({ claimed: 40, pending: 0 });
  });

  it("keeps a provider cache, so a rerun pays for no request twice", async () => {
    let hits = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        hits++;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ choices: [{ index: 0, text: "cached answer", finish_reason: "stop" }] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
    const first = new OpenAiProvider({ model: "m", baseUrl, cache: new StoreCache(store) });
    expect((await first.generate(["same prompt"]))[0]?.text).toBe("cached answer");
    const rerun = new OpenAiProvider({ model: "m", baseUrl, cache: new StoreCache(store) });
    expect((await rerun.generate(["same prompt"]))[0]?.text).toBe("cached answer");
    expect(hits).toBe(1);
    expect(rerun.usage.cacheHits).toBe(1);
    await new Promise((r) => server.close(r));
  });
});

describe("opening a store", () => {
  it("names the file when it is damaged or not a database, or read-only", async () => {
    const bad = join(tmp, "not-a-store.db");
    writeFileSync(bad, "these are notes, not a database\n".repeat(200));
    await expect(openStore(bad)).rejects.toThrow(
      /the SQLite store .*not-a-store\.db is damaged or not an SQLite database .*give another file with --db/,
    );
    // Read-only: a store made here, then written to by a user who may only read it (root ignores file modes, so the
    // writer runs as nobody when the tests run as root).
    const dir = mkdtempSync(join(tmpdir(), "precept-ro-"));
    const ro = join(dir, "ro.db");
    const made = await openStore(ro);
    await made.putRun("r", "test", {});
    await made.close();
    const rows = join(dir, "rows.jsonl");
    writeFileSync(rows, `${JSON.stringify({ prompt: "p", completion: "c" })}\n`);
    chmodSync(ro, 0o444);
    chmodSync(dir, 0o555);
    chmodSync(rows, 0o444);
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const result = spawnSync(
      process.execPath,
      preceptArgs("--db", ro, "store", "import", "--run", "r", "--kind", "revision", "--in", rows),
      {
        encoding: "utf8",
        ...asNobody,
        env: { ...process.env, HOME: dir, TMPDIR: tmpdir() },
      },
    );
    chmodSync(dir, 0o755);
    rmSync(dir, { recursive: true, force: true });
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/the SQLite store .*ro\.db is read-only \(attempt to write a readonly database\): make it writable/);
  });

  it("`store export --run nope` exits non-zero and says how to list the runs; `store runs` lists them", () => {
    const db = join(tmp, "export.db");
    const out = join(tmp, "nope.jsonl");
    const missing = spawnSync(
      process.execPath,
      preceptArgs("--db", db, "store", "export", "--run", "nope", "--kind", "revision", "--out", out),
      {
        encoding: "utf8",
      },
    );
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/there is no run "nope" in this store; `precept store runs` lists the runs it has/);
    expect(existsSync(out)).toBe(false);
    const listed = spawnSync(process.execPath, preceptArgs("--db", db, "store", "runs"), { encoding: "utf8" });
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/no runs in this store/);
  });

  it("opens the location it is given, or precept.db in the working directory; PRECEPT_DB is the CLI's to read, not its", async () => {
    const dir = mkdtempSync(join(tmpdir(), "precept-default-store-"));
    const fromEnvironment = join(dir, "from-environment.db");
    const previous = { cwd: process.cwd(), db: process.env.PRECEPT_DB };
    process.env.PRECEPT_DB = fromEnvironment;
    process.chdir(dir);
    try {
      expect(DEFAULT_STORE_LOCATION).toBe("precept.db");
      await (await openStore()).close();
      await (await openStore(join(dir, "given.db"))).close();
      expect(existsSync(join(dir, "precept.db"))).toBe(true);
      expect(existsSync(join(dir, "given.db"))).toBe(true);
      expect(existsSync(fromEnvironment)).toBe(false);
    } finally {
      process.chdir(previous.cwd);
      if (previous.db === undefined) delete process.env.PRECEPT_DB;
      else process.env.PRECEPT_DB = previous.db;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the location that cannot be opened", async () => {
    await expect(openStore(join(tmp, "no-such-dir", "x.db"))).rejects.toThrow(/cannot open the SQLite store .*no-such-dir/);
    await expect(openStore("postgres://postgres:secret@127.0.0.1:1/precept")).rejects.toThrow(
      /cannot connect to the PostgreSQL store postgres:\/\/postgres:\*\*\*@127.0.0.1:1\/precept/,
    );
  });
});
