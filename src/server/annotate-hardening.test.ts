/** Annotation findings of the adversarial probe (issue 20), over a real socket, on SQLite and PostgreSQL. */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, startAnnotateServer } from "../../test/helpers/annotate-server.js";
import { preceptArgs } from "../../test/helpers/cli.js";
import { storeEngines } from "../../test/helpers/store-engines.js";
import { createCampaign } from "../feedback/campaign.js";
import { addAnnotator } from "../feedback/users.js";
import { openStore, type Store } from "../store/store.js";

const { tmp, engines } = storeEngines("precept-annotate-hard-");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(engines)("annotation hardening (%s)", (_name, location) => {
  let store: Store;
  let server: { url: string; close: () => Promise<void> };
  const unique = Math.random().toString(36).slice(2, 8);
  beforeAll(async () => {
    store = await openStore(location());
    server = await startAnnotateServer(store);
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
  });

  async function campaign(name: string, settings: Record<string, unknown> = {}) {
    const c = await createCampaign(store, `${name}-${unique}`, { overlap: 1, flags: ["pii", "other"], ...settings }, [
      { key: "x", prompt: "Say hi", responses: ["Hi", "Hello"] },
      { key: "y", prompt: "Say bye", responses: ["Bye", "Later"] },
    ]);
    return c.id;
  }
  const user = async (name: string, campaignId: number) => (await addAnnotator(store, `${name}-${unique}`, [campaignId])).token as string;

  it("a leaked token can be revoked (401 at once) and rotated (the new token works, the old does not)", async () => {
    const id = await campaign("tokens");
    const leaked = await user("leaky", id);
    expect((await call(`${server.url}/api/me`, leaked)).status).toBe(200);
    const revoked = await call(`${server.url}/api/admin/users/leaky-${unique}/revoke`, ADMIN_TOKEN, "POST");
    expect(revoked.json).toEqual({ name: `leaky-${unique}`, revoked: true });
    expect((await call(`${server.url}/api/me`, leaked)).status).toBe(401);
    const listed = (await call(`${server.url}/api/admin/users`, ADMIN_TOKEN)).json;
    expect(listed.find((u: { name: string }) => u.name === `leaky-${unique}`).revoked).toBe(true);
    const rotated = await call(`${server.url}/api/admin/users/leaky-${unique}/rotate`, ADMIN_TOKEN, "POST");
    expect(rotated.status).toBe(200);
    expect((await call(`${server.url}/api/me`, rotated.json.token)).json).toEqual({ role: "annotator", name: `leaky-${unique}` });
    expect((await call(`${server.url}/api/me`, leaked)).status).toBe(401);
    // Rotating again retires the second token too.
    const again = await call(`${server.url}/api/admin/users/leaky-${unique}/rotate`, ADMIN_TOKEN, "POST");
    expect((await call(`${server.url}/api/me`, rotated.json.token)).status).toBe(401);
    expect((await call(`${server.url}/api/me`, again.json.token)).status).toBe(200);
    expect((await call(`${server.url}/api/admin/users/nobody/revoke`, ADMIN_TOKEN, "POST")).status).toBe(404);
    expect((await call(`${server.url}/api/admin/users/leaky-${unique}/revoke`, again.json.token, "POST")).status).toBe(403);
  });

  it("an open assignment left untouched expires and goes to another annotator; answering it then says so", async () => {
    const id = await campaign("expiry", { assignmentTimeoutMinutes: 0.005 }); // 300 ms
    const idle = await user("idle", id);
    const busy = await user("busy", id);
    const first = (await call(`${server.url}/api/campaigns/${id}/task`, idle)).json.task;
    expect(first.prompt).toBe("Say hi");
    // Within the timeout the item is taken (overlap 1): the other annotator gets the other item.
    expect((await call(`${server.url}/api/campaigns/${id}/task`, busy)).json.task.prompt).toBe("Say bye");
    expect((await call(`${server.url}/api/campaigns/${id}/skip`, busy, "POST", { itemId: first.itemId + 1 })).status).toBe(200);
    await sleep(450);
    const taken = (await call(`${server.url}/api/campaigns/${id}/task`, busy)).json.task;
    expect(taken?.itemId).toBe(first.itemId);
    const late = await call(`${server.url}/api/campaigns/${id}/answers`, idle, "POST", {
      itemId: first.itemId,
      idempotencyKey: "late-answer-1",
      ranking: [0],
    });
    expect(late.status).toBe(409);
    expect(late.json.error.message).toMatch(/was open longer than 0\.005 minutes and was given back; fetch your next task/);
    const done = await call(`${server.url}/api/campaigns/${id}/answers`, busy, "POST", {
      itemId: first.itemId,
      idempotencyKey: "busy-answer-1",
      ranking: [1],
    });
    expect(done.status).toBe(201);
    const report = (await call(`${server.url}/api/admin/campaigns/${id}/report`, ADMIN_TOKEN)).json;
    // The expired task is no longer counted as the idle annotator's open one.
    const idleRow = JSON.stringify(report).match(new RegExp(`\\{[^{}]*"name":"idle-${unique}"[^{}]*\\}`))?.[0];
    expect(JSON.parse(idleRow as string)).toMatchObject({ answered: 0, open: 0 });
  });

  it("fetching the task again keeps it from expiring", async () => {
    // 1.2 s against touches 200 ms apart: room for a slow request on a loaded machine.
    const id = await campaign("touch", { assignmentTimeoutMinutes: 0.02 });
    const a = await user("toucher", id);
    const b = await user("waiter", id);
    const mine = (await call(`${server.url}/api/campaigns/${id}/task`, a)).json.task;
    for (let i = 0; i < 3; i++) {
      await sleep(200);
      expect((await call(`${server.url}/api/campaigns/${id}/task`, a)).json.task.itemId).toBe(mine.itemId);
    }
    expect((await call(`${server.url}/api/campaigns/${id}/task`, b)).json.task.itemId).not.toBe(mine.itemId);
  });

  it("resubmitting with the idempotency key of an undone answer stores the new answer", async () => {
    const id = await campaign("undo");
    const token = await user("undoer", id);
    const task = (await call(`${server.url}/api/campaigns/${id}/task`, token)).json.task;
    const answer = (ranking: number[]) => ({ itemId: task.itemId, idempotencyKey: "same-key-1234", ranking });
    expect((await call(`${server.url}/api/campaigns/${id}/answers`, token, "POST", answer([0]))).status).toBe(201);
    // A network retry of the same answer is still one answer.
    expect((await call(`${server.url}/api/campaigns/${id}/answers`, token, "POST", answer([0]))).json.status).toBe("duplicate");
    expect((await call(`${server.url}/api/campaigns/${id}/undo`, token, "POST")).json.undone.itemId).toBe(task.itemId);
    const again = await call(`${server.url}/api/campaigns/${id}/answers`, token, "POST", answer([1]));
    expect(again.status).toBe(201);
    expect(again.json.status).toBe("stored");
    const live = (await call(`${server.url}/api/campaigns/${id}/answers`, token)).json;
    expect(live).toHaveLength(1);
    expect(live[0].data.ranking).toEqual([task.responses[1] === "Hi" ? 0 : 1]);
    expect(await store.answers(id, { includeUndone: true })).toHaveLength(2); // the undone one is kept
  });

  it("one answer may not carry the same flag on the same response twice", async () => {
    const id = await campaign("flags");
    const token = await user("flagger", id);
    const task = (await call(`${server.url}/api/campaigns/${id}/task`, token)).json.task;
    const flags = Array.from({ length: 64 }, () => ({ response: 0, flag: "pii" }));
    const repeated = await call(`${server.url}/api/campaigns/${id}/answers`, token, "POST", {
      itemId: task.itemId,
      idempotencyKey: "flags-key-123",
      ranking: [0],
      flags,
    });
    expect(repeated.status).toBe(400);
    expect(repeated.json.error).toEqual({ field: "flags.1", message: 'flags.1: response 0 already has the flag "pii" in this answer' });
    const distinct = await call(`${server.url}/api/campaigns/${id}/answers`, token, "POST", {
      itemId: task.itemId,
      idempotencyKey: "flags-key-124",
      ranking: [0],
      flags: [
        { response: 0, flag: "pii" },
        { response: 1, flag: "pii" },
        { response: 0, flag: "other" },
      ],
    });
    expect(distinct.status).toBe(201);
  });
});

describe("precept annotate rotate-token / revoke", () => {
  it("rotate-token prints a new token and retires the old one; revoke stops it; both name a missing annotator", async () => {
    const db = join(tmp, "cli-tokens.db");
    const precept = (...args: string[]) => spawnSync(process.execPath, preceptArgs("--db", db, ...args), { encoding: "utf8" });
    const added = precept("annotate", "add-user", "carol");
    const old = /token: (\S+)/.exec(added.stdout)?.[1] as string;
    const rotated = precept("annotate", "rotate-token", "carol");
    expect(rotated.status, rotated.stderr).toBe(0);
    const fresh = /token: (\S+)/.exec(rotated.stdout)?.[1] as string;
    expect(fresh).toMatch(/^pa_/);
    const store = await openStore(db);
    const server = await startAnnotateServer(store);
    try {
      expect((await call(`${server.url}/api/me`, old)).status).toBe(401);
      expect((await call(`${server.url}/api/me`, fresh)).status).toBe(200);
      const revoked = precept("annotate", "revoke", "carol");
      expect(revoked.status, revoked.stderr).toBe(0);
      expect(revoked.stdout).toMatch(/revoked carol's token/);
      expect((await call(`${server.url}/api/me`, fresh)).status).toBe(401);
    } finally {
      await server.close();
      await store.close();
    }
    const missing = precept("annotate", "revoke", "dave");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no annotator named "dave"/);
  }, 60_000);
});

describe("the admin token of precept annotate serve", () => {
  /** Starts serve with these arguments; resolves with its URL, its pid and what it wrote to stderr so far. */
  function serve(db: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    const child = spawn(process.execPath, preceptArgs("--db", db, "annotate", "serve", "--port", "0", ...args), {
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
    let out = "";
    let err = "";
    child.stderr?.on("data", (d) => (err += d));
    return new Promise<{ url: string; pid: number; err: () => string; stop: () => void }>((resolve, reject) => {
      child.stdout?.on("data", (d) => {
        out += d;
        const url = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1];
        if (url) resolve({ url, pid: child.pid as number, err: () => err, stop: () => child.kill("SIGTERM") });
      });
      child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${out}${err}`)));
    });
  }

  it("given with --admin-token, it is hidden from ps (the command line is rewritten) and a warning points to the alternatives", async () => {
    const token = "cli-admin-token-0123456789-secret";
    const served = await serve(join(tmp, "ps.db"), ["--admin-token", token]);
    try {
      const cmdline = readFileSync(`/proc/${served.pid}/cmdline`, "utf8");
      expect(cmdline).not.toContain(token);
      expect(served.err()).toMatch(/visible to other users \(ps, shell history\); use PRECEPT_ADMIN_TOKEN or --admin-token-file/);
      expect((await call(`${served.url}/api/me`, token)).json).toEqual({ role: "admin", name: "admin" });
    } finally {
      served.stop();
    }
  }, 60_000);

  it("is read from --admin-token-file or PRECEPT_ADMIN_TOKEN, and --help says so", async () => {
    const file = join(tmp, "admin-token");
    writeFileSync(file, "file-admin-token-0123456789\n");
    const fromFile = await serve(join(tmp, "file.db"), ["--admin-token-file", file]);
    try {
      expect((await call(`${fromFile.url}/api/me`, "file-admin-token-0123456789")).status).toBe(200);
      expect(fromFile.err()).toBe("");
    } finally {
      fromFile.stop();
    }
    const fromEnv = await serve(join(tmp, "env.db"), [], { ...process.env, PRECEPT_ADMIN_TOKEN: "env-admin-token-0123456789" });
    try {
      expect((await call(`${fromEnv.url}/api/me`, "env-admin-token-0123456789")).status).toBe(200);
    } finally {
      fromEnv.stop();
    }
    const help = spawnSync(process.execPath, preceptArgs("annotate", "serve", "--help"), { encoding: "utf8" }).stdout;
    expect(help).toMatch(/prefer PRECEPT_ADMIN_TOKEN or\s+--admin-token-file/);
    const overview = spawnSync(process.execPath, preceptArgs("annotate", "--help"), { encoding: "utf8" }).stdout;
    expect(overview).toMatch(/PRECEPT_ADMIN_TOKEN \(or --admin-token-file FILE\)/);
  }, 60_000);
});
