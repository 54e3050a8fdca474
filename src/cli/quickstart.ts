/** `precept quickstart`: runs the library quickstart with progress bars, then prints its table and acceptance checks. */
import { join, resolve } from "node:path";
import cliProgress from "cli-progress";
import { guardTable, stageTable, terminalTable, verdictLine } from "../eval/report.js";
import { type QuickstartOptions, quickstart as runQuickstart } from "../recipes/quickstart.js";

export async function quickstart(o: Omit<QuickstartOptions, "log" | "onEvalProgress">): Promise<void> {
  let bar: cliProgress.SingleBar | undefined;
  const summary = await runQuickstart({
    ...o,
    onEvalProgress: (stage, done, total) => {
      if (done === 0) {
        bar = new cliProgress.SingleBar(
          { format: `eval ${stage} {bar} {value}/{total} prompts | ETA {eta_formatted}` },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0);
      } else bar?.update(done);
      if (done === total) {
        bar?.stop();
        bar = undefined;
      }
    },
  });
  const out = resolve(o.out);
  console.log(`\n${terminalTable(stageTable(summary))}\n`);
  for (const [name, a] of Object.entries(summary.acceptance)) {
    const value = typeof a.value === "number" ? a.value.toFixed(3) : a.value;
    if (a.pass === null) console.log(`skipped  ${name}: ${a.note ?? "not checked in this run"}`);
    else console.log(`${a.pass ? "pass" : "FAIL"}  ${name}: ${value} (target ${a.target})`);
  }
  console.log(`verdict: ${verdictLine(summary.acceptance)}`);
  if (summary.guard)
    console.log(`\nguard in front (${summary.guard.classifier}, gold judge):\n${terminalTable(guardTable(summary.guard))}`);
  console.log(`\nreport: ${join(out, "report.html")}\nfigures: ${join(out, "summary.json")}`);
}
