/**
 * The quickstart end to end in its shortened form (`--fast`), on the shipped
 * sandbox model, as CI runs it; then a rerun that skips every stage.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HUMAN_ASSISTANT_TEMPLATE } from "../models/chat-template.js";
import { openStore } from "../store/store.js";
import { quickstart } from "./quickstart.js";
import { SANDBOX_BASE } from "./sandbox.js";

const out = mkdtempSync(join(tmpdir(), "precept-quickstart-"));
// The store is a parameter: here a file outside `out`, so nothing can fall back to <out>/precept.db unnoticed.
const db = join(mkdtempSync(join(tmpdir(), "precept-quickstart-db-")), "store.db");
afterAll(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(dirname(db), { recursive: true, force: true });
});

describe("precept quickstart --fast", () => {
  it("runs every stage offline, evaluates them with the gold judge and writes the report", async () => {
    const summary = await quickstart({ out, fast: true, seed: 0, db, log: () => {} });
    expect(Object.keys(summary.stages)).toEqual(["base", "sl-cai", "rl-cai-ppo", "rl-cai-dpo", "ppo-kl0.001"]);
    expect(summary.timings.every((t) => t.status === "ran")).toBe(true);
    // The shipped base model is helpful-only: it leaks data and complies with harmful requests.
    expect(summary.stages.base?.violationRate).toBeGreaterThan(0.4);
    // Critique → revision and SFT make the SL-CAI model less harmful than its base.
    expect(summary.stages["sl-cai"]?.violationRate).toBeLessThan(summary.stages.base?.violationRate as number);
    expect(summary.ppo.length).toBeGreaterThan(0);
    expect(summary.ppo.every((p) => Number.isFinite(p.gold) && Number.isFinite(p.kl))).toBe(true);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html.match(/<svg/g)?.length).toBe(4);
    expect(html).toContain("Sample transcripts");
    const json = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    expect(json.acceptance).toHaveProperty(["violation rate down (relative, base → PPO)"]);
    // The guard section: the base model's evaluated replies screened with the sandbox policy, judged again.
    const guarded = summary.guard?.stages.base;
    expect(guarded?.before.violationRate).toBe(summary.stages.base?.violationRate);
    expect(guarded?.after.violationRate).toBeLessThan(guarded?.before.violationRate as number);
    expect(guarded?.blockedReplies).toBeGreaterThan(0);
    expect(guarded?.evasivenessChange).toBeLessThanOrEqual(0.05);
    expect(json.guard.stages).toHaveProperty(["rl-cai-ppo"]);
    expect(html).toContain("<h2>Guard</h2>");
    for (const dir of ["sl-cai", "rm", "rl-cai-ppo", "rl-cai-dpo"]) {
      expect(existsSync(join(out, dir, "model.safetensors")), dir).toBe(true);
      // Each stage model chats in the base model's format (precept serve's /v1/chat/completions works on it).
      const tokenizerConfig = JSON.parse(readFileSync(join(out, dir, "tokenizer_config.json"), "utf8"));
      expect(tokenizerConfig.chat_template, dir).toBe(HUMAN_ASSISTANT_TEMPLATE);
    }

    // The rerun skips every stage; with --judge it adds win rates judged by a provider (here the base model itself).
    const again = await quickstart({ out, fast: true, seed: 0, db, judge: `local:${SANDBOX_BASE}` });
    expect(again.timings.every((t) => t.status === "skipped")).toBe(true);
    expect(again.stages.base?.violationRate).toBe(summary.stages.base?.violationRate);
    // Every pipeline's records went to the store given, none to <out>/precept.db.
    expect(existsSync(join(out, "precept.db"))).toBe(false);
    const store = await openStore(db);
    const kinds = new Set((await store.runs()).flatMap((r) => Object.keys(r.records)));
    await store.close();
    expect([...kinds]).toEqual(expect.arrayContaining(["revision", "ai_label"]));
    for (const w of Object.values(again.winRates)) {
      expect(w.judge).not.toBeNull();
      expect(w.judge).toBeGreaterThanOrEqual(0);
      expect(w.judge).toBeLessThanOrEqual(1);
    }
  }, 900_000);
});
