/**
 * The annotation fixes on a campaign made the way the quickstart makes its preference data: a
 * `cai label` run with one policy response (`s0`) and a contrast model's (`c0`) per prompt, on the
 * shipped sandbox model, in a real SQLite store. AI labels are matched to people through the stored
 * responses (not a key scheme); an "all unacceptable" answer is a vote in the consensus export; a
 * wrong --from-run names the runs there are; the dashboard (headless Chromium) lists items by prompt
 * text and hides unanswered ones; an empty response reads "(empty)" on the task screen.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ADMIN_TOKEN, call, startAnnotateServer } from "../../test/helpers/annotate-server.js";
import { runPrecept } from "../../test/helpers/cli.js";
import { runLabel } from "../cai/pipeline.js";
import { createCampaign, exportCampaign } from "../cli/annotate-run.js";
import { loadConstitution } from "../constitution/load.js";
import { initEngine } from "../engine/device.js";
import { createCampaign as createCampaignIn, findCampaign } from "../feedback/campaign.js";
import { campaignReport } from "../feedback/report.js";
import { addAnnotator } from "../feedback/users.js";
import { loadModel } from "../models/io.js";
import { LocalProvider } from "../providers/local.js";
import { openStore, type Store } from "../store/store.js";
import { RED_TEAM_CATEGORIES, samplePrompts } from "../world/prompts.js";

const SANDBOX = fileURLToPath(new URL("../../models/sandbox-base/", import.meta.url));
const CONSTITUTION = fileURLToPath(new URL("../../constitutions/sandbox.yaml", import.meta.url));
const artifacts = fileURLToPath(new URL("../../test-artifacts/annotate/", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "precept-annotate-quickstart-"));
const db = join(tmp, "store.db");
const PROMPTS = 10;

let store: Store;
let server: { url: string; close: () => Promise<void> };
let browser: Browser;
let run: string;
const tokens: Record<string, string> = {};
const previousDb = process.env.PRECEPT_DB;

const campaignOptions = (name: string, fromRun: string) => ({
  fromRun,
  name,
  overlap: 3,
  mode: "pick" as const,
  flags: "other",
  aiRun: [],
  seed: 0,
  assignmentTimeout: 60,
});

/** Console lines a call prints, and what it threw. */
async function printed(body: () => Promise<unknown>): Promise<{ out: string; error: unknown }> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.join(" ")));
  try {
    await body();
    return { out: lines.join("\n"), error: null };
  } catch (error) {
    return { out: lines.join("\n"), error };
  } finally {
    spy.mockRestore();
  }
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  await initEngine();
  store = await openStore(db);
  const prompts = join(tmp, "prompts.jsonl");
  writeFileSync(
    prompts,
    samplePrompts({ seed: 0, split: "train", perCategory: 3, categories: RED_TEAM_CATEGORIES })
      .slice(0, PROMPTS)
      .map((p) => JSON.stringify({ prompt: p.text }))
      .join("\n"),
  );
  // The quickstart's label stage: 1 response from the stage model, 1 from the base model as contrast, 1 principle.
  const model = await loadModel(SANDBOX);
  const summary = await runLabel({
    store,
    constitution: loadConstitution(CONSTITUTION),
    policy: new LocalProvider(model, "local:stage"),
    contrast: new LocalProvider(model, "local:base"),
    feedback: new LocalProvider(model, "local:stage"),
    prompts,
    responses: 1,
    principles: 1,
    maxTokens: 32,
    temperature: 1,
    seed: 0,
    concurrency: 4,
    out: join(tmp, "labels.jsonl"),
  });
  model.dispose();
  run = summary.run;
  process.env.PRECEPT_DB = db;
  server = await startAnnotateServer(store);
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });
}, 180_000);
afterAll(async () => {
  if (previousDb === undefined) delete process.env.PRECEPT_DB;
  else process.env.PRECEPT_DB = previousDb;
  await browser?.close();
  await server?.close();
  await store?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The response a label prefers, read from the records the way the pipeline writes them (s0 is response 0, c0 response 1). */
async function aiChoices(): Promise<Map<string, string>> {
  const texts = new Map((await store.records(run, "generation")).map((g) => [g.key, (g.data as { completion: string }).completion.trim()]));
  const out = new Map<string, string>();
  for (const label of await store.records(run, "ai_label")) {
    const item = label.key.split("/")[0] as string;
    const p = (label.data as { p: number }).p;
    if (p !== 0.5)
      out.set(texts.get(`${item}/s0`) as string, p > 0.5 ? (texts.get(`${item}/s0`) as string) : (texts.get(`${item}/c0`) as string));
  }
  return out; // keyed by the s0 text, which identifies the item
}

describe("annotation on a campaign made like the quickstart's (s0 + contrast c0)", () => {
  it("says when --from-run names no run, or a run without comparisons, and which runs there are", async () => {
    const generations = await store.records(run, "generation");
    expect(generations.some((g) => g.key.endsWith("/c0"))).toBe(true); // the key scheme that defeated the old lookup
    const missing = await printed(() => createCampaign(campaignOptions("x", "no-such-run"), db));
    expect(String(missing.error)).toMatch(
      new RegExp(`--from-run no-such-run: no such run in .*store\\.db\\. Runs with comparisons: ${run}\\. .*precept store runs`),
    );
    await store.addRecords("generations-only", [{ kind: "generation", key: "g", data: { prompt: "p", completion: "c" } }]);
    const empty = await printed(() => createCampaign(campaignOptions("y", "generations-only"), db));
    expect(String(empty.error)).toMatch(/generations-only: the run has no comparison records \(it holds 1 generation\).*cai label/);
    // `precept store runs` lists them with kind, creation time and counts.
    const listed = runPrecept("--db", db, "store", "runs");
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toMatch(/^run\tkind\tcreated \(UTC\)\trecords$/m);
    expect(listed.out).toMatch(new RegExp(`^${run}\\tcai-label\\t\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\t.*\\d+ comparison`, "m"));
  });

  it("compares AI labels with people through the stored responses, and counts 'all unacceptable' as a vote", async () => {
    const created = await printed(() => createCampaign(campaignOptions("quickstart", run), db));
    expect(created.error).toBeNull();
    const campaign = await findCampaign(store, "quickstart");
    if (!campaign) throw new Error("campaign not created");
    const items = await store.campaignItems(campaign.id);
    expect(items.length).toBeGreaterThanOrEqual(2);
    for (const name of ["ann", "bea", "cid"]) tokens[name] = (await addAnnotator(store, name, [campaign.id])).token as string;
    // ann and bea pick response 0 of the first two items they get; cid marks the first one all unacceptable.
    const answeredBy = new Map<number, string[]>();
    for (const name of ["ann", "bea", "cid"]) {
      for (let n = 0; n < (name === "cid" ? 1 : 2); n++) {
        const { task } = (await call(`${server.url}/api/campaigns/${campaign.id}/task`, tokens[name] as string)).json;
        const item = (await store.campaignItem(campaign.id, task.itemId))?.data as { responses: string[] };
        const body =
          name === "cid"
            ? { itemId: task.itemId, idempotencyKey: `${name}-answer-${n}`, ranking: [], unacceptable: true }
            : { itemId: task.itemId, idempotencyKey: `${name}-answer-${n}`, ranking: [task.responses.indexOf(item.responses[0])] };
        expect((await call(`${server.url}/api/campaigns/${campaign.id}/answers`, tokens[name] as string, "POST", body)).status).toBe(201);
        answeredBy.set(task.itemId, [...(answeredBy.get(task.itemId) ?? []), name]);
      }
    }
    const picked = [...answeredBy].filter(([, names]) => names.includes("ann") && names.includes("bea")).map(([id]) => id);
    expect(picked.length).toBe(2);

    // AI versus people: every picked item whose label is decided counts (it was "none yet" with the s0/s1 lookup).
    const report = await campaignReport(store, campaign);
    const ai = await aiChoices();
    let n = 0;
    let agree = 0;
    for (const row of items.filter((r) => picked.includes(r.id))) {
      const [first, second] = (row.data as { responses: string[] }).responses.map((r) => r.trim()) as [string, string];
      const choice = ai.get(first) ?? ai.get(second);
      if (choice === undefined) continue;
      n++;
      if (choice === first) agree++;
    }
    expect(n).toBeGreaterThan(0);
    // One principle is sampled per pair, so the figures are split by principle: their totals are the pairs'.
    expect(report.ai.reduce((t, p) => t + p.n, 0)).toBe(n);
    expect(report.ai.reduce((t, p) => t + p.agree, 0)).toBe(agree);

    // cid's "all unacceptable": a vote for neither. With ann and bea for response 0 the pair is still decided, at 2/3, and says so.
    const out = join(tmp, "consensus.jsonl");
    const voted = await printed(() => exportCampaign("quickstart", { consensus: true, raw: false, out, marginScale: 1 }, db));
    expect(voted.error).toBeNull();
    const rows = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(2);
    const cidItem = [...answeredBy].find(([, names]) => names.includes("cid"))?.[0];
    expect(picked).toContain(cidItem); // tasks go out in item order: cid gets the first item, which ann and bea answered
    const withVeto = rows.filter((r) => r.unacceptable_votes === 1);
    expect(withVeto).toHaveLength(1);
    expect(withVeto[0]?.margin).toBe(0.666667);
    // Veto: any such answer keeps the item out, and the export says how many pairs it held back.
    const vetoed = await printed(() =>
      exportCampaign("quickstart", { consensus: true, raw: false, out, marginScale: 1, unacceptable: "veto" }, db),
    );
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(1);
    expect(vetoed.out).toMatch(/1 pair\(s\) left out: "all unacceptable" answers.*--unacceptable veto/);
    expect(voted.out).not.toMatch(/left out/);
  }, 60_000);

  it("shows the dashboard by prompt text with unanswered items hidden, and '(empty)' for an empty response", async () => {
    const campaign = await findCampaign(store, "quickstart");
    if (!campaign) throw new Error("campaign missing");
    const report = await campaignReport(store, campaign);
    const answered = report.items.filter((i) => i.answers > 0);
    let page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.fill("#token", ADMIN_TOKEN);
    await page.click("#signin button[type=submit]");
    await page.waitForSelector("#alpha");
    await page.selectOption("#campaign", String(campaign.id));
    await page.waitForSelector("#items-table");
    await expect.poll(() => page.locator("#items-table tbody tr").count()).toBe(answered.length);
    const shown = await page.locator("#items-table tbody tr td:first-child").allTextContents();
    expect(shown.map((t) => t.replace(/…$/, ""))).toEqual(
      answered.map((i) => expect.stringContaining(i.prompt.replace(/\s+/g, " ").slice(0, 40))),
    );
    expect(await page.locator("#ai-table tbody tr").count()).toBe(report.ai.length);
    const hidden = report.items.length - answered.length;
    if (hidden > 0) {
      await page.check("#show-unanswered");
      await expect.poll(() => page.locator("#items-table tbody tr").count()).toBe(report.items.length);
    }
    await page.screenshot({ path: join(artifacts, "6-dashboard-by-prompt.png"), fullPage: true });

    // An annotator's task with an empty response.
    const blank = await createCampaignIn(store, "blank", { overlap: 1 }, [
      { key: "b", prompt: "Say something", responses: ["", "Something."] },
    ]);
    const dan = (await addAnnotator(store, "dan", [blank.id])).token as string;
    await page.close();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } }); // a fresh context: signed out
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.fill("#token", dan);
    await page.click("#signin button[type=submit]");
    await page.waitForSelector("#task .prompt");
    expect(await page.locator("#task .empty").allTextContents()).toEqual(["(empty)"]);
    await page.screenshot({ path: join(artifacts, "7-empty-response.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
