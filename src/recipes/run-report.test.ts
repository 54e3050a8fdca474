/** The `cai run` report: stage numbers, gates with a verdict, training curves and transcripts with "(empty)" for an empty response. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { DECLINE, ScriptedProvider } from "../../test/helpers/scripted-provider.js";
import { runRevise } from "../cai/pipeline.js";
import { parseConstitution } from "../constitution/load.js";
import { chanceAccuracyGate } from "../quality/accuracy.js";
import { openStore } from "../store/store.js";
import { recipeDirs } from "./recipe.js";
import { buildRunReport, renderRunReport } from "./run-report.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-run-report-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

class SilentPolicy extends ScriptedProvider {
  override reply(prompt: string): string {
    if (prompt.endsWith("Critique:")) return "The response shares a phone number.";
    if (prompt.endsWith("Revision:")) return DECLINE;
    return prompt.endsWith("Assistant:") ? "" : super.reply(prompt);
  }
}

it("reports each stage's numbers and gates, a verdict naming the failed gates, loss curves and transcripts", async () => {
  const out = join(tmp, "out");
  const dirs = recipeDirs(out);
  const store = await openStore(join(tmp, "store.sqlite"));
  try {
    const constitution = parseConstitution(
      "name: t\nversion: '1'\nprinciples:\n  - {id: pii, critique: Does it leak data?, revision: Remove it., compare: Which keeps data private?}\n",
      "t.yaml",
    );
    writeFileSync(join(tmp, "p.jsonl"), ["Ann's phone <b>?", "Bob's phone?"].map((prompt) => JSON.stringify({ prompt })).join("\n"));
    await runRevise({ store, constitution, policy: new SilentPolicy(), prompts: join(tmp, "p.jsonl"), revisions: 1, outDir: dirs.revise });
    mkdirSync(dirs.rm, { recursive: true });
    writeFileSync(
      join(dirs.rm, "metrics.jsonl"),
      [
        { step: 1, loss: 0.7, accuracy: 0.5 },
        { step: 2, loss: 0.69, accuracy: 0.5 },
        { step: 2, eval_accuracy: 0.5 },
      ]
        .map((l) => JSON.stringify(l))
        .join("\n"),
    );
    writeFileSync(join(dirs.rm, "gates.json"), JSON.stringify([chanceAccuracyGate(0.5, 2)]));
    const report = await buildRunReport(
      { out },
      dirs,
      [
        { name: "revise", status: "ran", seconds: 1 },
        { name: "reward", status: "ran", seconds: 2 },
      ],
      store,
    );
    expect(report.stages[0]?.numbers).toMatchObject({ prompts: 2, "SFT rows": 2, "preference rows": 2 });
    expect(report.stages[1]?.numbers).toEqual({ loss: 0.69, accuracy: 0.5, eval_accuracy: 0.5 });
    expect(report.stages[1]?.loss).toEqual([
      [1, 0.7],
      [2, 0.69],
    ]);
    expect(report.failedGates).toBe(4);
    expect(report.verdict).toBe(
      "4 quality gate(s) failed (revise empty-responses, revise critiques-of-empty, revise degenerate-pairs, reward chance-accuracy): the outputs of those stages need a look before they are used",
    );
    expect(report.samples.map((s) => [s.first, s.final])).toEqual([
      ["", DECLINE],
      ["", DECLINE],
    ]);
    const html = renderRunReport(report);
    expect(html).toContain('<i class="empty">(empty)</i>');
    expect(html).toContain("Ann&#39;s phone &lt;b&gt;?");
    expect(html).toContain("reward: training loss");
    expect(html.match(/<td>WARN<\/td>/g)).toHaveLength(4);
  } finally {
    await store.close();
  }
});
