/**
 * A quality gate: one check on what a stage produced, with a threshold that
 * has a default, and a WARN line that says what a failure means and what to
 * try. Gates never stop a run by themselves; `--strict` turns a failed gate
 * into a non-zero exit (and a recipe stops at that stage).
 *
 * This folder imports nothing from the rest of Precept: any layer may use it.
 */

export type GateResult = {
  /** A stable kebab-case name, e.g. "empty-responses". */
  gate: string;
  ok: boolean;
  /** What was measured (a share, a rate, an accuracy, nats). */
  value: number;
  threshold: number;
  /** How many things were measured (responses, pairs, steps); 0: nothing to judge, the gate passes. */
  n: number;
  /** What was found, with numbers. */
  finding: string;
  /** What a failure means and what to try; said only when the gate fails. */
  advice: string;
};

export const percent = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)}%`;

/** The WARN line of a failed gate (null when it passed). */
export function warnLine(result: GateResult): string | null {
  return result.ok ? null : `WARN ${result.gate}: ${result.finding}. ${result.advice}`;
}

export function warnLines(results: readonly GateResult[]): string[] {
  return results.map(warnLine).filter((line): line is string => line !== null);
}

export function failedGates(results: readonly GateResult[]): GateResult[] {
  return results.filter((r) => !r.ok);
}

/** Thrown by a `--strict` run when gates failed; the CLI exits non-zero with its message. */
export class QualityGateError extends Error {
  constructor(
    readonly stage: string,
    readonly failed: GateResult[],
  ) {
    super(
      `${stage}: ${failed.length} quality gate(s) failed under --strict (${failed.map((g) => g.gate).join(", ")}); ` +
        `fix the data or model, or run without --strict to continue anyway:\n${warnLines(failed).join("\n")}`,
    );
    this.name = "QualityGateError";
  }
}

/** Under `strict`, throws when any gate failed. */
export function enforceGates(stage: string, results: readonly GateResult[], strict: boolean): void {
  const failed = failedGates(results);
  if (strict && failed.length > 0) throw new QualityGateError(stage, failed);
}

/** Advice shared by the gates on generated text. */
export const WEAK_MODEL_ADVICE =
  "Try a stronger model for this step (e.g. `--critic openai:MODEL` or `--feedback openai:MODEL` on an OpenAI-compatible server), " +
  "check the prompt format (`--mode chat` for a chat model), or use more data";
