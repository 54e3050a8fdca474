/**
 * Screening one text against the policy's principles for one stage (the request, or the reply):
 * per principle a score (a pattern match scores 1 without asking a model; otherwise, for a reply, the
 * trained classifier's score at its own threshold where it has a head for the principle, else the
 * judge's P(violation), else 0), its threshold, and whether it is broken.
 * Which action follows is the principle's mode, decided by the caller.
 */
import type { JudgeClassifier } from "./judge.js";
import type { GuardPolicy, Mode, ScreenedPrinciple, Stage } from "./policy.js";
import type { TrainedClassifier } from "./trained.js";

export type Verdict = {
  principle: string;
  stage: Stage;
  score: number;
  threshold: number;
  violated: boolean;
  mode: Mode;
  classifier: "pattern" | "judge" | "trained";
  latencyMs: number;
};

export type Screener = {
  policy: GuardPolicy;
  judge: JudgeClassifier | null;
  /** Scores replies (not requests) for the principles it has a head for, at its own thresholds. */
  trained?: TrainedClassifier | null;
};

/** Fails at start-up, not on the first request, when a principle could never be screened. */
export function checkScreener({ policy, judge, trained }: Screener): void {
  if (judge) return;
  const blind = policy.principles
    .filter((p) => p.patterns.length === 0 && !(trained?.covers(p.principle.id) && p.stages.length === 1 && p.stages[0] === "output"))
    .map((p) => p.principle.id);
  if (blind.length > 0)
    throw new Error(
      `principles ${blind.join(", ")} have no patterns and there is no judge${trained ? " (a trained classifier screens replies only: give them stages: [output])" : ""}: give patterns in the policy file (--policy), a judge (--judge PROVIDER), a trained classifier (--classifier DIR), or screen fewer principles`,
    );
}

async function screenOne(s: Screener, p: ScreenedPrinciple, stage: Stage, prompt: string, response: string): Promise<Verdict> {
  const started = performance.now();
  const text = stage === "input" ? prompt : response;
  const matched = p.patterns.some((re) => re.test(text));
  let score = matched ? 1 : 0;
  let classifier: Verdict["classifier"] = "pattern";
  let threshold = p.threshold;
  // An empty reply says nothing that could break a principle (as the sandbox's gold judge rules); no model is asked.
  const ask = !matched && !(stage === "output" && response.trim() === "");
  if (ask && stage === "output" && s.trained?.covers(p.principle.id)) {
    score = await s.trained.score(p.principle.id, prompt, response);
    threshold = s.trained.threshold(p.principle.id);
    classifier = "trained";
  } else if (ask && s.judge) {
    score = await s.judge.score({ principle: p.principle, stage, prompt, response });
    classifier = "judge";
  }
  return {
    principle: p.principle.id,
    stage,
    score,
    threshold,
    violated: score >= threshold,
    mode: p.mode,
    classifier,
    latencyMs: performance.now() - started,
  };
}

/** Every principle screened at this stage, in the policy's order. */
export async function screen(s: Screener, stage: Stage, prompt: string, response = ""): Promise<Verdict[]> {
  const principles = s.policy.principles.filter((p) => p.stages.includes(stage));
  return Promise.all(principles.map((p) => screenOne(s, p, stage, prompt, response)));
}

/** The strongest action the broken principles call for: block over revise over flag; null when none is broken. */
export function actionOf(verdicts: readonly Verdict[]): Mode | null {
  const broken = verdicts.filter((v) => v.violated).map((v) => v.mode);
  for (const mode of ["block", "revise", "flag"] as const) if (broken.includes(mode)) return mode;
  return null;
}
