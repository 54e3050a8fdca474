import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeEngines } from "../../test/helpers/store-engines.js";
import { openStore, type Store } from "../store/store.js";
import { type Campaign, createCampaign, plainText } from "./campaign.js";
import { consensusRows, rawRows } from "./export.js";
import { campaignReport } from "./report.js";
import { itemsFromComparisons, itemsFromJsonl } from "./sources.js";
import { nextTask, responseOrder, submitAnswer } from "./tasks.js";
import { addAnnotator } from "./users.js";

const { tmp, engines } = storeEngines("precept-feedback-");

const items = [
  { key: "a", prompt: "Q1", responses: ["A0", "A1"] },
  { key: "b", prompt: "Q2", responses: ["B0", "B1", "B2"] },
];

/** Answers the annotator's current task by response text (what a person clicks), whatever the shown order. */
async function pick(store: Store, campaign: Campaign, annotatorId: number, best: string[], key = `key-${Math.random()}`.replace(".", "")) {
  const task = await nextTask(store, campaign, annotatorId);
  if (!task) throw new Error("no task");
  const ranking = best.map((text) => task.responses.findIndex((r) => plainText(r) === text));
  return {
    task,
    outcome: await submitAnswer(store, campaign, annotatorId, {
      itemId: task.itemId,
      idempotencyKey: key,
      ranking,
      unacceptable: false,
      flags: [],
      reason: "",
    }),
  };
}

describe.each(engines)("campaigns on %s", (_engine, location) => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(location());
  });
  afterAll(async () => store.close());

  it("hands each item to at most `overlap` annotators, fullest first, in each annotator's recorded order", async () => {
    const campaign = await createCampaign(store, `overlap-${Math.random()}`.replace(".", ""), { overlap: 2, seed: 7 }, items);
    const users = await Promise.all(["u1", "u2", "u3"].map((n) => addAnnotator(store, `${n}-${campaign.id}`, [campaign.id])));
    const [t1, t2, t3] = await Promise.all(users.map((u) => nextTask(store, campaign, u.annotator.id)));
    // Sequential on SQLite, serialized by the campaign lock on PostgreSQL: two get one item, the third the other.
    const counts = new Map<number, number>();
    for (const t of [t1, t2, t3]) counts.set(t?.itemId as number, (counts.get(t?.itemId as number) ?? 0) + 1);
    expect([...counts.values()].sort()).toEqual([1, 2]);
    const assignments = await store.assignments(campaign.id);
    for (const a of assignments) {
      const n = a.itemId === (await store.campaignItems(campaign.id))[0]?.id ? 2 : 3;
      expect(a.shownOrder).toEqual(responseOrder(7, a.annotatorId, a.itemId, n));
    }
    // The same task again until answered (a reload shows the same thing).
    expect((await nextTask(store, campaign, users[0]?.annotator.id as number))?.itemId).toBe(t1?.itemId);
  });

  it("stores a double-submitted answer once, refuses others' and answered items, frees skipped ones, and undoes the last answer", async () => {
    const campaign = await createCampaign(store, `flow-${Math.random()}`.replace(".", ""), { overlap: 1 }, items);
    const { annotator: ann } = await addAnnotator(store, `ann-${campaign.id}`, [campaign.id]);
    const { annotator: bob } = await addAnnotator(store, `bob-${campaign.id}`, [campaign.id]);
    const first = await pick(store, campaign, ann.id, ["A1"], "same-key-1");
    expect(first.outcome.status).toBe("stored");
    const again = await submitAnswer(store, campaign, ann.id, {
      itemId: first.task.itemId,
      idempotencyKey: "same-key-1",
      ranking: [0],
      unacceptable: false,
      flags: [],
      reason: "",
    });
    expect(again.status).toBe("duplicate");
    const other = await submitAnswer(store, campaign, ann.id, {
      itemId: first.task.itemId,
      idempotencyKey: "other-key-1",
      ranking: [0],
      unacceptable: false,
      flags: [],
      reason: "",
    });
    expect(other.status).toBe("already_answered");
    // Overlap 1: item "a" is taken, so bob gets "b"; ann cannot answer bob's item.
    const bobTask = await nextTask(store, campaign, bob.id);
    expect(bobTask?.itemId).not.toBe(first.task.itemId);
    expect(
      (
        await submitAnswer(store, campaign, ann.id, {
          itemId: bobTask?.itemId as number,
          idempotencyKey: "steal-key-1",
          ranking: [0],
          unacceptable: false,
          flags: [],
          reason: "",
        })
      ).status,
    ).toBe("not_assigned");
    // Bob skips it: it goes back to the pool, and ann gets it; bob is done.
    expect(await store.skipAssignment(campaign.id, bob.id, bobTask?.itemId as number)).toBe(true);
    expect(await nextTask(store, campaign, bob.id)).toBeNull();
    expect(await store.annotatorProgress(campaign.id, bob.id, 1)).toEqual({ answered: 0, skipped: 1, remaining: 0 });
    const second = await pick(store, campaign, ann.id, ["B2"]);
    expect(second.task.itemId).toBe(bobTask?.itemId);
    expect(await store.annotatorProgress(campaign.id, ann.id, 1)).toEqual({ answered: 2, skipped: 0, remaining: 0 });
    // Undo: the last answer is withdrawn and its item is the current task again.
    const undone = await store.undoLastAnswer(campaign.id, ann.id);
    expect(undone?.itemId).toBe(second.task.itemId);
    expect((await nextTask(store, campaign, ann.id))?.itemId).toBe(second.task.itemId);
    const redo = await pick(store, campaign, ann.id, ["B0"]);
    expect(redo.outcome.status).toBe("stored");
    const live = await store.answers(campaign.id);
    expect(live.map((a) => (a.data as { ranking: number[] }).ranking)).toEqual([[1], [0]]);
    expect(await store.answers(campaign.id, { includeUndone: true })).toHaveLength(3);
    expect(await store.answers(campaign.id, { annotatorId: bob.id })).toEqual([]);
  });
});

describe("campaign sources, report and exports (SQLite)", () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(join(tmp, "report.db"));
  });
  afterAll(async () => store.close());

  it("groups JSONL rows and stored comparisons by prompt, and names a bad JSONL line", async () => {
    const file = join(tmp, "items.jsonl");
    writeFileSync(
      file,
      [
        { prompt: "p", chosen: "x", rejected: "y" },
        { prompt: "p", chosen: "z", rejected: "x" },
        { prompt: "q", responses: ["1", "2", "3"] },
        { prompt: "r", chosen: "same", rejected: "same " },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    const fromFile = await itemsFromJsonl(file);
    expect(fromFile.map((i) => i.responses)).toEqual([
      ["x", "y", "z"],
      ["1", "2", "3"],
    ]);
    writeFileSync(file, `${JSON.stringify({ prompt: "p", chosen: "x", rejected: "y" })}\n{"prompt": 3}\n`);
    await expect(itemsFromJsonl(file)).rejects.toThrow(/items.jsonl:2:/);
  });

  it("computes agreement, consensus, AI versus human per principle, and exports TRL rows with margins", async () => {
    // An AI-feedback run as `precept cai label` stores it: prompt, generations s0..s2, ai_labels per pair and principle, comparisons.
    const run = "label-run";
    const [root] = await store.addRecords(run, [{ kind: "prompt", key: "p1", data: { prompt: "Is it safe?" } }]);
    const texts = ["Safe answer", "Risky answer", "Evasive answer"];
    await store.addRecords(
      run,
      texts.map((t, i) => ({
        kind: "generation" as const,
        key: `p1/s${i}`,
        parentId: root as number,
        data: { prompt: "Is it safe?", completion: t },
      })),
    );
    await store.addRecords(run, [
      { kind: "ai_label", key: "p1/0-1/0", principleId: "harm", data: { p: 0.9 } }, // s0 over s1: people agree
      { kind: "ai_label", key: "p1/0-1/1", principleId: "honesty", data: { p: 0.2 } }, // s1 over s0: people disagree
      { kind: "ai_label", key: "p1/0-2/0", principleId: "harm", data: { p: 0.7 } }, // s0 over s2: people agree
      // A TRL row (as `precept store import` stores it) about item "two": people prefer "Hello!".
      { kind: "ai_label", key: "trl-1", principleId: "tone", data: { prompt: "Hi", chosen: "Go away.", rejected: "Hello!", label: 0.8 } },
      ...[
        [0, 1],
        [0, 2],
        [1, 2],
      ].map(([i, j]) => ({
        kind: "comparison" as const,
        key: `p1/${i}-${j}`,
        parentId: root as number,
        data: { prompt: "\n\nHuman: Is it safe?\n\nAssistant:", chosen: ` ${texts[i as number]}`, rejected: ` ${texts[j as number]}` },
      })),
    ]);
    const fromRun = itemsFromComparisons(await store.records(run, "comparison"));
    expect(fromRun).toHaveLength(1);
    expect(fromRun[0]?.responses.map((r) => plainText(r))).toEqual(texts);
    const campaign = await createCampaign(store, "report", { overlap: 3, mode: "rank", sourceRun: run }, [
      ...fromRun,
      { key: "two", prompt: "Hi", responses: ["Hello!", "Go away."] },
    ]);
    const names = ["ann", "bea", "cid"];
    const ids: number[] = [];
    for (const n of names) ids.push((await addAnnotator(store, n, [campaign.id])).annotator.id);
    // Item 1 (3 responses): ann and bea rank Safe > Evasive > Risky, cid ranks Risky > Safe > Evasive.
    // Item 2: all three prefer "Hello!".
    const rankings: Record<string, string[][]> = {
      ann: [
        ["Safe answer", "Evasive answer", "Risky answer"],
        ["Hello!", "Go away."],
      ],
      bea: [
        ["Safe answer", "Evasive answer", "Risky answer"],
        ["Hello!", "Go away."],
      ],
      cid: [
        ["Risky answer", "Safe answer", "Evasive answer"],
        ["Hello!", "Go away."],
      ],
    };
    for (const [k, n] of names.entries())
      for (const r of rankings[n] ?? []) expect((await pick(store, campaign, ids[k] as number, r)).outcome.status).toBe("stored");

    const report = await campaignReport(store, campaign, { minJudgements: 1 });
    expect(report.progress).toMatchObject({ answers: 6, complete: 2 });
    // Units: 3 pairs of item 1 + 1 pair of item 2. ann = bea everywhere; cid differs on (0,1) and (1,2).
    // Values per unit (winner index): (0,1): 0,0,1 · (0,2): 0,0,0 · (1,2): 2,2,1 · (0,1) of item 2: 0,0,0.
    const kappa = Object.fromEntries(report.agreement.kappa.map((k) => [`${k.a}/${k.b}`, k]));
    expect(kappa["ann/bea"]).toMatchObject({ kappa: 1, n: 4 });
    // ann vs cid: p_o = 2/4; ann's values 0,0,2,0 and cid's 1,0,1,0: p_e = (3/4)(2/4) + 0 + 0 = 3/8; kappa = (1/2 − 3/8)/(5/8) = 0.2.
    expect(kappa["ann/cid"]?.kappa).toBeCloseTo(0.2, 12);
    // alpha: n = 12 values; n_0 = 8, n_1 = 2, n_2 = 2; units (0,1) and (1,2) each have 4 ordered disagreeing pairs, weight 1/2.
    expect(report.agreement.alpha).toBeCloseTo(1 - (11 * 4) / (144 - 64 - 4 - 4), 12);
    const withConsensus = Object.fromEntries(report.agreement.withConsensus.map((a) => [a.annotator, a]));
    expect(withConsensus.cid).toMatchObject({ agree: 2, n: 4, low: true });
    // ann's others (bea, cid) tie on two of ann's four pairs; those are not counted.
    expect(withConsensus.ann).toMatchObject({ agree: 2, n: 2, low: false });
    // Bradley-Terry: Safe won 5 of 6 games; Risky and Evasive won 2 each against the same opponents, so they tie
    // (its scores depend on total wins), although Evasive beat Risky head to head 2-1, as the pair majority says.
    const consensus = report.items[0]?.consensus;
    expect(consensus?.ranking[0]).toBe(0);
    expect(consensus?.scores[1]).toBeCloseTo(consensus?.scores[2] as number, 9);
    expect(consensus?.pairs.find((p) => p.i === 1 && p.j === 2)).toMatchObject({ winner: 2, forI: 1, forJ: 2 });
    expect(report.ai).toEqual([
      { principle: "harm", n: 2, agree: 2, rate: 1 },
      { principle: "honesty", n: 1, agree: 0, rate: 0 },
      { principle: "tone", n: 1, agree: 0, rate: 0 },
    ]);

    const rows = await consensusRows(store, campaign);
    expect(rows).toEqual([
      { prompt: "\n\nHuman: Is it safe?\n\nAssistant:", chosen: " Safe answer", rejected: " Risky answer", margin: 0.333333 },
      { prompt: "\n\nHuman: Is it safe?\n\nAssistant:", chosen: " Safe answer", rejected: " Evasive answer", margin: 1 },
      { prompt: "\n\nHuman: Is it safe?\n\nAssistant:", chosen: " Evasive answer", rejected: " Risky answer", margin: 0.333333 },
      { prompt: "Hi", chosen: "Hello!", rejected: "Go away.", margin: 1 },
    ]);
    const raw = await rawRows(store, campaign);
    expect(raw).toHaveLength(6);
    expect(raw[0]).toMatchObject({ campaign: "report", annotator: "ann", ranking: [0, 2, 1], unacceptable: false });
  });
});
