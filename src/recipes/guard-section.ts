/**
 * The quickstart report's guard section: what `precept guard` with the sandbox policy would have
 * done in front of the models the quickstart already evaluated. The replies the evaluation
 * generated are screened in-process by the guard's own screening (patterns only: no server, no
 * model call, so it costs the quickstart almost nothing), a blocked request or reply becomes the
 * policy's refusal, and the gold judge rules again on what a client would have seen.
 */
import type { GuardSection, GuardStageFigures } from "../eval/report.js";
import type { GuardPolicy } from "../guard/policy.js";
import { actionOf, type Screener, screen } from "../guard/screen.js";
import { guardPolicy } from "../guard/start.js";
import { type Judged, stageMetrics } from "../world/gold-metrics.js";
import { judge } from "../world/judge.js";
import type { WorldPrompt } from "../world/prompts.js";

/** The guard policy shipped for the sandbox constitution (patterns for no-pii and no-harm). */
export const SANDBOX_GUARD_POLICY = new URL("../../policies/sandbox-guard.yaml", import.meta.url).pathname;

/** The sandbox policy over a constitution file, as `precept guard --policy policies/sandbox-guard.yaml` loads it. */
export function sandboxGuardPolicy(constitution: string, policy = SANDBOX_GUARD_POLICY): GuardPolicy {
  return guardPolicy(constitution, policy);
}

type Shown = { reply: string; blocked: "request" | "reply" | null; flagged: boolean; principles: string[] };

/** What a client of the guard would see for one evaluated reply, decided the way the proxy decides it. */
async function throughGuard(screener: Screener, prompt: string, reply: string): Promise<Shown> {
  const refusal = screener.policy.refusal;
  const broken = (verdicts: { principle: string; violated: boolean }[]) => verdicts.filter((v) => v.violated).map((v) => v.principle);
  const input = await screen(screener, "input", prompt);
  const inputAction = actionOf(input);
  // A request cannot be rewritten: revise on input blocks, as in the proxy.
  if (inputAction === "block" || inputAction === "revise")
    return { reply: refusal, blocked: "request", flagged: false, principles: broken(input) };
  const output = await screen(screener, "output", prompt, reply);
  const outputAction = actionOf(output);
  // No critic runs here, so a reply in revise mode counts as blocked (what the proxy does when revision fails).
  if (outputAction === "block" || outputAction === "revise")
    return { reply: refusal, blocked: "reply", flagged: false, principles: broken(output) };
  return { reply, blocked: null, flagged: inputAction === "flag" || outputAction === "flag", principles: [] };
}

function figures(before: Judged[], after: Judged[], shown: Shown[]): GuardStageFigures {
  const b = stageMetrics(before);
  const a = stageMetrics(after);
  const blockedByPrinciple: Record<string, number> = {};
  for (const s of shown) for (const p of s.principles) blockedByPrinciple[p] = (blockedByPrinciple[p] ?? 0) + 1;
  return {
    n: before.length,
    before: { violationRate: b.violationRate, evasiveness: b.evasiveness, helpfulness: b.helpfulness },
    after: { violationRate: a.violationRate, evasiveness: a.evasiveness, helpfulness: a.helpfulness },
    violationReduction: b.violationRate > 0 ? (b.violationRate - a.violationRate) / b.violationRate : null,
    evasivenessChange: a.evasiveness - b.evasiveness,
    blockedRequests: shown.filter((s) => s.blocked === "request").length,
    blockedReplies: shown.filter((s) => s.blocked === "reply").length,
    flagged: shown.filter((s) => s.flagged).length,
    blockedByPrinciple,
  };
}

/**
 * Screens each named stage's judged replies through the policy (patterns, plus a judge or trained
 * classifier only if the screener has one) and measures before and after with the gold judge.
 */
export async function guardSection(
  screener: Screener,
  replies: Record<string, Judged[]>,
  promptOf: (id: string) => WorldPrompt,
  policyFile: string,
): Promise<GuardSection> {
  const stages: Record<string, GuardStageFigures> = {};
  for (const [name, judged] of Object.entries(replies)) {
    const shown: Shown[] = [];
    const after: Judged[] = [];
    for (const j of judged) {
      const prompt = promptOf(j.id);
      const s = await throughGuard(screener, prompt.text, j.response);
      shown.push(s);
      after.push({ ...j, response: s.reply, judgement: judge(prompt, s.reply) });
    }
    stages[name] = figures(judged, after, shown);
  }
  const classifier = screener.trained ? "patterns + trained classifier" : screener.judge ? "patterns + judge" : "patterns";
  return {
    policy: policyFile,
    classifier,
    principles: screener.policy.principles.map((p) => ({ id: p.principle.id, mode: p.mode, stages: p.stages })),
    refusal: screener.policy.refusal,
    stages,
  };
}
