/**
 * The quality gates of a training run, after it ends: printed as WARN lines
 * under the run's last line, written to `output_dir/gates.json` (read by
 * reports), and, with `strict: true` in the config, a non-zero exit.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { enforceGates, type GateResult, warnLines } from "../quality/gate.js";

export function finishGates(
  trainer: string,
  config: { output_dir: string; strict: boolean },
  gates: GateResult[],
  log: (line: string) => void = console.log,
): GateResult[] {
  writeFileSync(join(config.output_dir, "gates.json"), `${JSON.stringify(gates, null, 2)}\n`);
  for (const line of warnLines(gates)) log(`${trainer}: ${line}`);
  enforceGates(`train ${trainer}`, gates, config.strict);
  return gates;
}
