/**
 * The annotation app in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): an annotator signs in and works with mouse and keyboard,
 * flags a response, undoes an answer; another ranks by dragging; the admin
 * dashboard shows the agreement figures. Screenshots go to test-artifacts/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, startAnnotateServer } from "../../test/helpers/annotate-server.js";
import { createCampaign } from "../feedback/campaign.js";
import type { AnswerData } from "../feedback/tasks.js";
import { addAnnotator } from "../feedback/users.js";
import { openStore, type Store } from "../store/store.js";

const artifacts = fileURLToPath(new URL("../../test-artifacts/annotate/", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "precept-annotate-browser-"));
const SCRIPT = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">';
const GUIDE = "# How to judge\n\nPrefer **safe** and *helpful* answers.\n\n- flag personal data\n- <script>window.pwned = 3</script>\n";

let store: Store;
let server: { url: string; close: () => Promise<void> };
let browser: Browser;
const tokens: Record<string, string> = {};
let pickId: number;
let rankId: number;

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  store = await openStore(join(tmp, "browser.db"));
  server = await startAnnotateServer(store);
  // AI labels for one pair, to compare with people on the dashboard.
  await store.addRecords("ai", [
    {
      kind: "ai_label",
      key: "l1",
      principleId: "be-kind",
      data: { prompt: "Greet me", chosen: "Hello there!", rejected: "Go away.", label: 0.9 },
    },
  ]);
  const pick = await createCampaign(store, "pick-campaign", { overlap: 3, guidelines: GUIDE, aiRuns: ["ai"] }, [
    { key: "greet", prompt: "Greet me", responses: ["Hello there!", "Go away."] },
    { key: "capital", prompt: [{ role: "user", content: "Capital of France?" }], responses: ["Paris.", "Lyon."] },
    { key: "html", prompt: "Show me some HTML", responses: [SCRIPT, "I would rather not."] },
  ]);
  const rank = await createCampaign(store, "rank-campaign", { overlap: 1, mode: "rank" }, [
    { key: "r", prompt: "Rank these", responses: ["First", "Second", "Third"] },
  ]);
  pickId = pick.id;
  rankId = rank.id;
  for (const name of ["ann", "bea", "cid"]) tokens[name] = (await addAnnotator(store, name, [pick.id])).token as string;
  tokens.dan = (await addAnnotator(store, "dan", [rank.id])).token as string;
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await store?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function signIn(page: Page, token: string) {
  await page.goto(server.url);
  await page.fill("#token", token);
  await page.click("#signin button[type=submit]");
}

type BrowserGlobals = { document: { querySelector(selector: string): { textContent: string | null } | null }; pwned?: number };

/** Waits until the task on screen is a different one from `before` (the prompt text changed). */
async function nextPrompt(page: Page, before: string) {
  await page.waitForFunction((old) => {
    // Runs in the page; the tests are type-checked without the DOM library.
    const el = (globalThis as unknown as BrowserGlobals).document.querySelector("#task .prompt, #done");
    return el !== null && el.textContent !== old;
  }, before);
  return (await page.locator("#task .prompt, #done").first().textContent()) as string;
}

describe("the annotation app in Chromium", () => {
  it("lets an annotator sign in, answer with mouse and keyboard, flag, undo, and shows model HTML as text", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await signIn(page, "wrong-token");
    await expect.poll(() => page.locator("#signin .error").textContent()).toMatch(/not valid/);
    await signIn(page, tokens.ann as string);
    await page.waitForSelector("#task .prompt");
    expect(await page.locator("#whoami").textContent()).toBe("ann (annotator)");
    // Guidelines: Markdown rendered, the HTML in it shown as text.
    expect(await page.locator("#guidelines strong").textContent()).toBe("safe");
    expect(await page.locator("#guidelines li").nth(1).textContent()).toBe("<script>window.pwned = 3</script>");
    expect(await page.locator("#progress").textContent()).toBe("0 answered · 3 to go");

    // Item 1 with the mouse: flag "Go away." as other, pick "Hello there!".
    let prompt = (await page.locator("#task .prompt").textContent()) as string;
    expect(prompt).toBe("Greet me");
    await page.screenshot({ path: join(artifacts, "1-task.png"), fullPage: true });
    const rude = page.locator("article.response", { hasText: "Go away." });
    await rude.locator('input[data-flag="other"]').check();
    await page.fill("#reason", "friendlier");
    await page.locator("article.response", { hasText: "Hello there!" }).locator("button.pick").click();
    prompt = await nextPrompt(page, prompt);
    expect(prompt).toMatch(/Capital of France\?/);
    expect(await page.locator("#task .role").first().textContent()).toBe("user");

    // Item 2 with the keyboard: 1 picks the first response shown, u undoes it, 2 picks the other one.
    await page.keyboard.press("1");
    const third = await nextPrompt(page, prompt);
    expect(third).toContain("Show me some HTML");
    await page.keyboard.press("u");
    expect(await nextPrompt(page, third)).toBe(prompt);
    expect(await page.locator("#progress").textContent()).toBe("1 answered · 2 to go");
    const secondShown = (await page.locator("article.response").nth(1).locator(".text").textContent()) as string;
    await page.keyboard.press("2");
    await nextPrompt(page, prompt);

    // Item 3: the response with <script> and <img onerror> is text, not markup.
    const html = page.locator("article.response", { hasText: "<script>" });
    expect(await html.locator(".text").textContent()).toBe(SCRIPT);
    expect(await page.locator("#task script, #task img").count()).toBe(0);
    await page.screenshot({ path: join(artifacts, "2-html-as-text.png"), fullPage: true });
    await page.locator("article.response", { hasText: "I would rather not." }).locator("button.pick").click();
    await page.waitForSelector("#done");
    expect(await page.locator("#progress").textContent()).toBe("3 answered · 0 to go");
    await page.screenshot({ path: join(artifacts, "3-done.png"), fullPage: true });
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).pwned)).toBeUndefined();
    expect(errors).toEqual([]);

    // What the store holds: three live answers (one undone), the flag and reason on the first, the keyboard choice on the second.
    const annId = (await store.annotatorByName("ann"))?.id as number;
    const live = await store.answers(pickId, { annotatorId: annId });
    expect(live).toHaveLength(3);
    expect(await store.answers(pickId, { annotatorId: annId, includeUndone: true })).toHaveLength(4);
    const items = await store.campaignItems(pickId);
    const text = (itemKey: string, index: number) => {
      const item = items.find((i) => i.key === itemKey)?.data as { responses: string[] };
      return item.responses[index];
    };
    const byKey = (key: string) => live.find((a) => a.itemId === items.find((i) => i.key === key)?.id)?.data as AnswerData;
    expect(text("greet", byKey("greet").ranking[0] as number)).toBe("Hello there!");
    expect(byKey("greet").flags.map((f) => [text("greet", f.response), f.flag])).toEqual([["Go away.", "other"]]);
    expect(byKey("greet").reason).toBe("friendlier");
    expect(text("capital", byKey("capital").ranking[0] as number)).toBe(secondShown);
    expect(text("html", byKey("html").ranking[0] as number)).toBe("I would rather not.");
    await page.close();
  });

  it("shows bidirectional-override characters as visible markers, so a response displays in the order it is stored", async () => {
    // "invoice_<RLO>gnp.exe" displays as "invoice_exe.png" when the override acts.
    const spoof = "Open invoice_\u202Egnp.exe now";
    const campaign = await createCampaign(store, "bidi-campaign", { overlap: 1 }, [
      { key: "b", prompt: "Isolate \u2067this\u2069 please", responses: [spoof, "Plain answer."] },
    ]);
    const token = (await addAnnotator(store, "eve", [campaign.id])).token as string;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, token);
    await page.waitForSelector("#task .prompt");
    const card = page.locator("article.response", { hasText: "invoice_" });
    expect(await card.locator(".bidi-control").textContent()).toBe("⟦U+202E⟧");
    expect(await page.locator("#task .prompt .bidi-control").allTextContents()).toEqual(["⟦U+2067⟧", "⟦U+2069⟧"]);
    // On screen, "g" of "gnp.exe" stands left of its final "e": the characters are in their stored order.
    const order = await card.evaluate((el) => {
      // Runs in the page (the tests are type-checked without the DOM library).
      // biome-ignore lint/suspicious/noExplicitAny: DOM objects in the page
      const doc = (globalThis as any).document;
      const walker = doc.createTreeWalker(el, 4);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const at = node.data.indexOf("gnp.exe");
        if (at < 0) continue;
        const x = (i: number) => {
          const range = doc.createRange();
          range.setStart(node, i);
          range.setEnd(node, i + 1);
          return range.getBoundingClientRect().left;
        };
        return { first: x(at), last: x(at + 6), controls: /[\u202A-\u202E\u2066-\u2069]/.test(el.textContent) };
      }
      return null;
    });
    expect(order).not.toBeNull();
    expect(order?.first).toBeLessThan(order?.last as number);
    expect(order?.controls).toBe(false);
    await page.screenshot({ path: join(artifacts, "3b-bidi.png"), fullPage: true });
    await page.close();
  });

  it("lets an annotator rank by dragging", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, tokens.dan as string);
    await page.waitForSelector("#ranking li");
    const items = page.locator("#ranking li");
    expect(await items.allTextContents()).toEqual(["Response 1", "Response 2", "Response 3"]);
    await items.nth(2).dragTo(items.nth(0));
    expect(await page.locator("#ranking li").allTextContents()).toEqual(["Response 3", "Response 1", "Response 2"]);
    await page.screenshot({ path: join(artifacts, "4-rank.png"), fullPage: true });
    await page.click("#submit-ranking");
    await page.waitForSelector("#done");
    const answers = await store.answers(rankId);
    expect(answers).toHaveLength(1);
    const { shownOrder, data } = answers[0] as { shownOrder: number[]; data: AnswerData };
    expect(data.ranking).toEqual([shownOrder[2], shownOrder[0], shownOrder[1]]);
    await page.close();
  });

  it("shows the admin the agreement figures and exports the consensus", async () => {
    // Two more annotators through the API: bea agrees with ann everywhere, cid disagrees everywhere.
    const annAnswers = await store.answers(pickId, { annotatorId: (await store.annotatorByName("ann"))?.id as number });
    const annChoice = new Map(annAnswers.map((a) => [a.itemId, (a.data as AnswerData).ranking[0]]));
    for (const name of ["bea", "cid"]) {
      for (let n = 0; ; n++) {
        const { task } = (await call(`${server.url}/api/campaigns/${pickId}/task`, tokens[name] as string)).json;
        if (!task) break;
        const item = (await store.campaignItem(pickId, task.itemId))?.data as { responses: string[] };
        const wanted = name === "bea" ? annChoice.get(task.itemId) : 1 - (annChoice.get(task.itemId) as number);
        const position = task.responses.indexOf(item.responses[wanted as number]);
        const body = { itemId: task.itemId, idempotencyKey: `${name}-answer-${n}`, ranking: [position] };
        expect((await call(`${server.url}/api/campaigns/${pickId}/answers`, tokens[name] as string, "POST", body)).status).toBe(201);
      }
    }
    const report = (await call(`${server.url}/api/admin/campaigns/${pickId}/report`, ADMIN_TOKEN)).json;

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await signIn(page, ADMIN_TOKEN);
    await page.waitForSelector("#alpha");
    expect(await page.locator("#whoami").textContent()).toBe("admin (admin)");
    expect(await page.locator("#summary").textContent()).toMatch(/3 items · mode pick · overlap 3 · 9 answers · 3 items complete/);
    expect(await page.locator("#alpha").textContent()).toBe(report.agreement.alpha.toFixed(3));
    const kappaRows = await page.locator("#kappa-table tbody tr").allTextContents();
    expect(kappaRows).toHaveLength(3);
    expect(kappaRows.find((r) => r.startsWith("annbea"))).toMatch(/^annbea1\.0003$/);
    expect(await page.locator("#consensus-agreement tr.low").allTextContents()).toEqual([expect.stringMatching(/^cid03.*low agreement$/)]);
    expect(await page.locator("#ai-table tbody tr").allTextContents()).toEqual(["be-kind111.00"]);
    expect(await page.locator("#flags-table tbody tr").allTextContents()).toEqual(["other1"]);
    await page.screenshot({ path: join(artifacts, "5-dashboard.png"), fullPage: true });
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-consensus")]);
    const saved = join(tmp, "consensus.jsonl");
    await download.saveAs(saved);
    const rows = readFileSync(saved, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual({ prompt: "Greet me", chosen: "Hello there!", rejected: "Go away.", margin: 0.333333 });
    await page.close();
  });
});
