import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, startAnnotateServer } from "../../test/helpers/annotate-server.js";
import { createCampaign } from "../feedback/campaign.js";
import { addAnnotator } from "../feedback/users.js";
import { openStore, type Store } from "../store/store.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-annotate-"));
const SCRIPT = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">';
let store: Store;
let server: { url: string; close: () => Promise<void> };
let ann: string;
let bob: string;
let outsider: string;
let campaignId: number;
let otherCampaignId: number;

beforeAll(async () => {
  store = await openStore(join(tmp, "annotate.db"));
  server = await startAnnotateServer(store, { maxBodyBytes: 4096 });
  const campaign = await createCampaign(store, "security", { overlap: 1, flags: ["pii", "other"] }, [
    { key: "x", prompt: "Say hi", responses: [SCRIPT, "Hello"] },
    { key: "y", prompt: "Say bye", responses: ["Bye", "Later"] },
  ]);
  const other = await createCampaign(store, "other", {}, [{ prompt: "p", responses: ["a", "b"] }]);
  campaignId = campaign.id;
  otherCampaignId = other.id;
  ann = (await addAnnotator(store, "ann", [campaign.id])).token as string;
  bob = (await addAnnotator(store, "bob", [campaign.id])).token as string;
  outsider = (await addAnnotator(store, "outsider", [other.id])).token as string;
});
afterAll(async () => {
  await server?.close();
  await store?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("annotation API security", () => {
  it("answers 401 without a token or with a wrong one, on every route", async () => {
    const routes: [string, string][] = [
      ["GET", "/api/me"],
      ["GET", "/api/campaigns"],
      ["GET", `/api/campaigns/${campaignId}/task`],
      ["POST", `/api/campaigns/${campaignId}/answers`],
      ["POST", `/api/campaigns/${campaignId}/undo`],
      ["GET", `/api/admin/campaigns/${campaignId}/report`],
      ["GET", `/api/admin/campaigns/${campaignId}/export`],
      ["POST", "/api/admin/users"],
    ];
    for (const [method, path] of routes) {
      expect((await call(`${server.url}${path}`, null, method, method === "POST" ? {} : undefined)).status, `${method} ${path}`).toBe(401);
      expect((await call(`${server.url}${path}`, "pa_not-a-real-token", method, method === "POST" ? {} : undefined)).status).toBe(401);
    }
    const basic = await fetch(`${server.url}/api/me`, { headers: { authorization: `Basic ${ADMIN_TOKEN}` } });
    expect(basic.status).toBe(401);
  });

  it("answers 403 to an annotator on admin routes, on a campaign they are not in, and for the admin on annotator routes", async () => {
    expect((await call(`${server.url}/api/me`, ann)).json).toEqual({ role: "annotator", name: "ann" });
    for (const path of [
      `/api/admin/campaigns/${campaignId}/report`,
      `/api/admin/campaigns/${campaignId}/export?kind=raw`,
      "/api/admin/users",
    ])
      expect((await call(`${server.url}${path}`, ann)).status).toBe(403);
    expect((await call(`${server.url}/api/admin/users`, ann, "POST", { name: "mallory" })).status).toBe(403);
    expect((await call(`${server.url}/api/campaigns/${campaignId}/task`, outsider)).status).toBe(403);
    expect((await call(`${server.url}/api/campaigns/${campaignId}`, outsider)).status).toBe(403);
    // Not even whether a campaign exists leaks: a missing one is also 403 for an annotator.
    expect((await call(`${server.url}/api/campaigns/999999`, outsider)).status).toBe(403);
    expect((await call(`${server.url}/api/campaigns`, outsider)).json.map((c: { id: number }) => c.id)).toEqual([otherCampaignId]);
    expect((await call(`${server.url}/api/campaigns/${campaignId}/task`, ADMIN_TOKEN)).status).toBe(403);
    // Annotators see what they need, not the campaign's overlap or sources.
    const settings = (await call(`${server.url}/api/campaigns/${campaignId}`, ann)).json;
    expect(Object.keys(settings).sort()).toEqual(["flags", "guidelines", "id", "mode", "name"]);
  });

  it("keeps each annotator's answers to themselves and refuses answers to someone else's item", async () => {
    const task = (await call(`${server.url}/api/campaigns/${campaignId}/task`, ann)).json.task;
    // A response containing HTML comes back as a plain JSON string; the page renders it with text nodes (see the browser test).
    expect(task.responses).toContain(SCRIPT);
    const stored = await call(`${server.url}/api/campaigns/${campaignId}/answers`, ann, "POST", {
      itemId: task.itemId,
      idempotencyKey: "ann-answer-1",
      ranking: [0],
      flags: [{ response: 1, flag: "pii" }],
      reason: "clearer",
    });
    expect(stored.status).toBe(201);
    expect(stored.json.status).toBe("stored");
    const bobTask = (await call(`${server.url}/api/campaigns/${campaignId}/task`, bob)).json.task;
    expect(bobTask.itemId).not.toBe(task.itemId); // overlap 1
    expect((await call(`${server.url}/api/campaigns/${campaignId}/answers`, bob)).json).toEqual([]);
    const mine = (await call(`${server.url}/api/campaigns/${campaignId}/answers`, ann)).json;
    expect(mine).toHaveLength(1);
    // Bob answering (or skipping) ann's item: 403 / 409, and nothing changes.
    const steal = await call(`${server.url}/api/campaigns/${campaignId}/answers`, bob, "POST", {
      itemId: task.itemId,
      idempotencyKey: "bob-steals-1",
      ranking: [1],
    });
    expect(steal.status).toBe(403);
    expect(steal.json.error.field).toBe("itemId");
    expect((await call(`${server.url}/api/campaigns/${campaignId}/skip`, bob, "POST", { itemId: task.itemId })).status).toBe(409);
    // Bob's undo cannot withdraw ann's answer.
    expect((await call(`${server.url}/api/campaigns/${campaignId}/undo`, bob, "POST", {})).json).toEqual({ undone: null });
    expect(await store.answers(campaignId)).toHaveLength(1);
    // The same submission twice is stored once.
    const again = await call(`${server.url}/api/campaigns/${campaignId}/answers`, ann, "POST", {
      itemId: task.itemId,
      idempotencyKey: "ann-answer-1",
      ranking: [0],
    });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ status: "duplicate", answerId: stored.json.answerId });
    expect(
      (
        await call(`${server.url}/api/campaigns/${campaignId}/answers`, ann, "POST", {
          itemId: task.itemId,
          idempotencyKey: "ann-answer-2",
          ranking: [1],
        })
      ).status,
    ).toBe(409);
    expect(await store.answers(campaignId)).toHaveLength(1);
  });

  it("answers 400 naming the field for malformed input, and 413 for an oversized body", async () => {
    const url = `${server.url}/api/campaigns/${campaignId}/answers`;
    const bobTask = (await call(`${server.url}/api/campaigns/${campaignId}/task`, bob)).json.task;
    const cases: [unknown, string][] = [
      ["{not json", "body"],
      [[1, 2], "body"],
      [{ idempotencyKey: "abcdefgh", ranking: [0] }, "itemId"],
      [{ itemId: "1", idempotencyKey: "abcdefgh", ranking: [0] }, "itemId"],
      [{ itemId: bobTask.itemId, idempotencyKey: "short", ranking: [0] }, "idempotencyKey"],
      [{ itemId: bobTask.itemId, idempotencyKey: "abcdefgh", ranking: [5] }, "ranking.0"],
      [{ itemId: bobTask.itemId, idempotencyKey: "abcdefgh", ranking: [0, 1] }, "ranking"],
      [{ itemId: bobTask.itemId, idempotencyKey: "abcdefgh", ranking: [] }, "ranking"],
      [
        { itemId: bobTask.itemId, idempotencyKey: "abcdefgh", ranking: [0], flags: [{ response: 0, flag: "hate_harassment" }] },
        "flags.0.flag",
      ],
      [{ itemId: bobTask.itemId, idempotencyKey: "abcdefgh", ranking: [0], reason: "x".repeat(2001) }, "reason"],
    ];
    for (const [body, field] of cases) {
      const response = await call(url, bob, "POST", body);
      expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(response.json.error.field).toBe(field);
      expect(response.json.error.message).toMatch(new RegExp(`^${field.replace(".", "\\.")}: `));
    }
    expect((await call(`${server.url}/api/campaigns/abc/task`, bob)).status).toBe(400);
    const big = await call(url, bob, "POST", {
      itemId: bobTask.itemId,
      idempotencyKey: "abcdefgh",
      ranking: [0],
      reason: "x".repeat(5000),
    });
    expect(big.status).toBe(413);
    const bobId = (await store.annotatorByName("bob"))?.id as number;
    expect(await store.answers(campaignId, { annotatorId: bobId })).toEqual([]);
    // "All unacceptable" needs no choice, and says nothing about which response is better.
    const unacceptable = await call(url, bob, "POST", { itemId: bobTask.itemId, idempotencyKey: "bob-unacceptable", unacceptable: true });
    expect(unacceptable.status).toBe(201);
    expect((await store.answers(campaignId, { annotatorId: bobId }))[0]?.data).toEqual({
      ranking: [],
      unacceptable: true,
      flags: [],
      reason: "",
    });
  });

  it("lets the admin read the report, export, add users and campaigns; serves the UI with a strict CSP and nothing else", async () => {
    const report = await call(`${server.url}/api/admin/campaigns/${campaignId}/report`, ADMIN_TOKEN);
    expect(report.status).toBe(200);
    expect(report.json.progress.answers).toBe(2);
    expect(report.json.items.map((i: { unacceptable: number }) => i.unacceptable)).toEqual([0, 1]);
    const raw = await call(`${server.url}/api/admin/campaigns/${campaignId}/export?kind=raw`, ADMIN_TOKEN);
    expect(raw.headers.get("content-type")).toMatch(/ndjson/);
    const rawRows = raw.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rawRows).toHaveLength(2);
    expect(rawRows[0]).toMatchObject({ annotator: "ann", flags: [{ flag: "pii" }], reason: "clearer" });
    expect(rawRows[1]).toMatchObject({ annotator: "bob", unacceptable: true, ranking: [] });
    expect((await call(`${server.url}/api/admin/campaigns/${campaignId}/export?kind=bogus`, ADMIN_TOKEN)).json.error.field).toBe("kind");
    const user = await call(`${server.url}/api/admin/users`, ADMIN_TOKEN, "POST", { name: "cy", campaigns: [campaignId] });
    expect(user.status).toBe(201);
    expect((await call(`${server.url}/api/me`, user.json.token)).json.name).toBe("cy");
    expect((await call(`${server.url}/api/admin/users`, ADMIN_TOKEN, "POST", { name: "<b>" })).json.error.field).toBe("name");
    const made = await call(`${server.url}/api/admin/campaigns`, ADMIN_TOKEN, "POST", {
      name: "api-made",
      items: [{ prompt: "p", responses: ["a", "a"] }],
    });
    expect(made.json.error.field).toBe("items.0.responses");
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(page.headers.get("content-security-policy")).not.toMatch(/unsafe-inline/);
    expect((await fetch(`${server.url}/static/app.js`)).headers.get("content-type")).toMatch(/javascript/);
    for (const path of ["/static/..%2Fpackage.json", "/static/../../package.json", "/static/nope.js", "/web/app.js"])
      expect((await fetch(`${server.url}${path}`)).status).toBe(404);
  });
});
