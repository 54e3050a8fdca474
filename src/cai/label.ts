/**
 * AI feedback (RLAIF): for each prompt, k responses from the policy; for each
 * pair, a feedback model answers the constitution's multiple-choice question
 * for m sampled principles. The soft label is the normalized probability of
 * " (A)" against " (B)" read from log-probs, scored in both orders and
 * averaged to cancel position bias, then averaged over the principles.
 * Chain-of-thought mode lets the model reason first and clamps its (extreme)
 * probabilities to a band, 0.4–0.6 by default as in the CAI paper. Without
 * log-probs the answer is sampled n times and its frequency used.
 * Hard constraints are judged on every pair, besides the m sampled
 * principles; priorities and hard constraints decide conflicts (resolve.ts).
 */
import type { LoadedConstitution, Principle } from "../constitution/load.js";
import { CONFIDENCE_THRESHOLD } from "../constitution/schema.js";
import { principlesFor, principleText } from "../constitution/stages.js";
import type { ChatMessage } from "../models/chat-template.js";
import { NotSupportedError, type Provider } from "../providers/provider.js";
import type { WorkItem } from "../store/store.js";
import {
  ANSWER_A,
  ANSWER_B,
  answerAfterReasoning,
  comparisonMessage,
  comparisonPrompt,
  comparisonQuestion,
  cutAtTurn,
  parseAnswer,
  responsePrompt,
  TURN_STOPS,
} from "./format.js";
import { completionField, type Mode, promptField } from "./outputs.js";
import { resolveVerdicts } from "./resolve.js";
import { itemSeed, samplePrinciples } from "./sample.js";
import type { RecordSteps } from "./steps.js";

export type LabelMethod = "logprobs" | "sampling";

export type LabelSettings = {
  constitution: LoadedConstitution;
  seed: number;
  mode: Mode;
  /** Responses generated per prompt (pairs are all k·(k−1)/2 of them). */
  responses: number;
  /** Principles per comparison, averaged (default: the constitution's `sampling.principles_per_comparison`). */
  principles: number;
  chainOfThought: boolean;
  /** The band chain-of-thought probabilities are clamped to. */
  clamp: [number, number];
  method: LabelMethod;
  /** Answers sampled per question when `method` is "sampling". */
  samples: number;
  maxTokens: number;
  temperature: number;
  /** Tokens of reasoning in chain-of-thought mode. */
  reasoningTokens: number;
};

export type LabelPayload = { prompt: string; responses?: string[]; source: string };

/** Probability that the first of two answers is right, from their summed log-probs. */
export function normalizedProbability(logprobA: number, logprobB: number): number {
  return 1 / (1 + Math.exp(logprobB - logprobA));
}

export function clamp(p: number, [lo, hi]: [number, number]): number {
  return Math.min(hi, Math.max(lo, p));
}

/** Whether a provider scores text; decides the label method once per run (says so in the run's metadata). */
export async function labelMethodFor(provider: Provider): Promise<LabelMethod> {
  try {
    await provider.logprobs("Human: hi\n\nAssistant:", [" hello"]);
    return "logprobs";
  } catch (error) {
    if (error instanceof NotSupportedError) return "sampling";
    throw error;
  }
}

/** `raw`: p before chain-of-thought clamping (what confidence is judged on). */
type Order = { p: number; raw: number; reasoning?: string };

/** P(answer is (A)) for one ordering of the two responses under one principle. */
async function probabilityOfA(
  steps: RecordSteps,
  feedback: Provider,
  s: LabelSettings,
  prompt: string,
  principle: Principle,
  a: string,
  b: string,
  seed: number,
): Promise<Order> {
  const examples = s.constitution.few_shot.comparison;
  const question = principleText(principle, "compare");
  if (s.mode === "chat") {
    // Chat APIs give no prompt log-probs: sample the answer (after reasoning, in CoT mode).
    const content = s.chainOfThought
      ? `${comparisonQuestion(prompt, question, a, b, examples)}\nThink step by step, then end with "The answer is: (A)" or "The answer is: (B)".`
      : comparisonMessage(prompt, question, a, b, examples);
    const messages: ChatMessage[][] = Array.from({ length: s.samples }, () => [{ role: "user", content }]);
    const replies = await feedback.chat(messages, {
      maxTokens: s.chainOfThought ? s.reasoningTokens : 8,
      temperature: 1,
      seed,
    });
    for (const r of replies) steps.count(r);
    const answers = replies.map((r) => parseAnswer(s.chainOfThought ? (r.text.split(/answer is:?/i).at(-1) ?? "") : r.text));
    const p = frequency(answers);
    return { p: s.chainOfThought ? clamp(p, s.clamp) : p, raw: p, ...(s.chainOfThought ? { reasoning: replies[0]?.text ?? "" } : {}) };
  }
  let stem = comparisonPrompt(prompt, question, a, b, { examples });
  let reasoning: string | undefined;
  if (s.chainOfThought) {
    const cot = comparisonPrompt(prompt, question, a, b, { examples, chainOfThought: true });
    const completion = await steps.complete(feedback, cot, {
      maxTokens: s.reasoningTokens,
      temperature: 0,
      stop: ["\nThe answer is", "\n\nHuman:", "\n\nAssistant:"],
      seed,
    });
    reasoning = cutAtTurn(completion.text.split("\nThe answer is")[0] ?? "");
    stem = answerAfterReasoning(cot, reasoning);
  }
  let p: number;
  if (s.method === "logprobs") {
    const [la, lb] = await feedback.logprobs(stem, [ANSWER_A, ANSWER_B]);
    steps.tally.calls++;
    p = normalizedProbability(la as number, lb as number);
  } else {
    const replies = await feedback.generate(
      Array.from({ length: s.samples }, () => stem),
      { maxTokens: 4, temperature: 1, seed },
    );
    for (const r of replies) steps.count(r);
    p = frequency(replies.map((r) => parseAnswer(r.text)));
  }
  return { p: s.chainOfThought ? clamp(p, s.clamp) : p, raw: p, ...(reasoning !== undefined ? { reasoning } : {}) };
}

/** The share of (A) among parsed answers; 0.5 when none parsed. */
function frequency(answers: ("A" | "B" | null)[]): number {
  const parsed = answers.filter((x) => x !== null);
  return parsed.length === 0 ? 0.5 : parsed.filter((x) => x === "A").length / parsed.length;
}

export type PairLabel = {
  /** Probability that response i is better than response j. */
  p: number;
  /** Per principle: P(A) with i shown first, P(A) with j shown first. */
  orders: { principle: string; first: number; swapped: number }[];
};

export type LabelResult = { pairs: number; responses: number };

export async function labelItem(
  item: WorkItem,
  steps: RecordSteps,
  providers: { policy: Provider; feedback: Provider; contrast?: Provider },
  s: LabelSettings,
): Promise<LabelResult> {
  const { prompt, responses: given, source } = item.payload as LabelPayload;
  const key = item.key;
  const provenance = { constitutionHash: s.constitution.hash, modelId: providers.feedback.id };
  const comparable = principlesFor(s.constitution, "comparison");
  const hard = comparable.filter((p) => p.hard);
  const soft = comparable.filter((p) => !p.hard);
  const threshold = s.constitution.sampling.confidence_threshold ?? CONFIDENCE_THRESHOLD;
  const root = await steps.step("prompt", key, async () => ({ data: { prompt, source } }));

  const respond = (provider: Provider, name: string) =>
    steps.step("generation", `${key}/${name}`, async () => {
      const input = s.mode === "chat" ? [{ role: "user", content: prompt }] : responsePrompt(prompt);
      const seed = itemSeed(s.seed, key, name);
      const completion = await steps.complete(provider, input, {
        maxTokens: s.maxTokens,
        temperature: s.temperature,
        stop: TURN_STOPS,
        seed,
      });
      return {
        parentId: root.id,
        data: { prompt, completion: cutAtTurn(completion.text) },
        modelId: provider.id,
        sampling: { max_tokens: s.maxTokens, temperature: s.temperature },
        seed,
      };
    });
  // Given responses, or k from the policy plus, with a contrast model, one of its own.
  const generated = given
    ? await Promise.all(
        given.map((text, i) =>
          steps.step("generation", `${key}/s${i}`, async () => ({
            parentId: root.id,
            data: { prompt, completion: text },
            modelId: "input",
          })),
        ),
      )
    : await Promise.all([
        ...Array.from({ length: s.responses }, (_, i) => respond(providers.policy, `s${i}`)),
        ...(providers.contrast ? [respond(providers.contrast, "c0")] : []),
      ]);
  const k = generated.length;
  const texts = generated.map((r) => (r.data as { completion: string }).completion);

  let pairs = 0;
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      const a = texts[i] as string;
      const b = texts[j] as string;
      // Identical responses carry no preference.
      if (a === b) continue;
      pairs++;
      const pairKey = `${key}/${i}-${j}`;
      jobs.push(
        (async () => {
          // m sampled principles (a constitution of hard constraints only has none to sample), and every hard constraint.
          const judged = [
            ...(soft.length > 0 ? samplePrinciples(soft, s.seed, pairKey, s.principles) : []).map((principle, n) => ({
              principle,
              key: `${n}`,
            })),
            ...hard.map((principle) => ({ principle, key: `hard/${principle.id}` })),
          ];
          const labels = await Promise.all(
            judged.map(({ principle, key: n }) =>
              steps.step("ai_label", `${pairKey}/${n}`, async () => {
                const seed = itemSeed(s.seed, pairKey, `p${n}`);
                const [first, swapped] = await Promise.all([
                  probabilityOfA(steps, providers.feedback, s, prompt, principle, a, b, seed),
                  probabilityOfA(steps, providers.feedback, s, prompt, principle, b, a, seed + 1),
                ]);
                return {
                  ...provenance,
                  principleId: principle.id,
                  seed,
                  sampling: { method: s.method, chain_of_thought: s.chainOfThought, samples: s.method === "sampling" ? s.samples : null },
                  data: {
                    first: first.p,
                    swapped: swapped.p,
                    // P(i better) from both orders: (A) when i is first, (B) when it is second.
                    p: (first.p + (1 - swapped.p)) / 2,
                    ...(s.chainOfThought ? { raw: (first.raw + (1 - swapped.raw)) / 2 } : {}),
                    ...(first.reasoning !== undefined ? { reasoning: [first.reasoning, swapped.reasoning] } : {}),
                  },
                };
              }),
            ),
          );
          const orders = labels.map((r) => ({ principle: r.principleId as string, ...(r.data as { first: number; swapped: number }) }));
          const byId = new Map(comparable.map((p) => [p.id, p]));
          const resolution = resolveVerdicts(
            labels.map((r) => {
              const { p, raw } = r.data as { p: number; raw?: number };
              const principle = byId.get(r.principleId as string);
              return {
                principle: r.principleId as string,
                p,
                ...(raw !== undefined ? { raw } : {}),
                ...(principle?.priority !== undefined ? { priority: principle.priority } : {}),
                ...(principle?.hard ? { hard: true } : {}),
              };
            }),
            threshold,
          );
          const p = resolution.p;
          const iBetter = p >= 0.5;
          await steps.step("comparison", pairKey, async () => ({
            ...provenance,
            parentId: root.id,
            data: {
              prompt: promptField(prompt, s.mode),
              chosen: completionField(iBetter ? a : b, s.mode),
              rejected: completionField(iBetter ? b : a, s.mode),
              label: iBetter ? p : 1 - p,
              method: s.method,
              orders,
              // Said only where priorities or a hard constraint, not the plain mean, made the label.
              ...(resolution.by !== "mean" ? { decided_by: { rule: resolution.by, principles: resolution.principles } } : {}),
            },
          }));
        })(),
      );
    }
  }
  await Promise.all(jobs);
  return { pairs, responses: k };
}

export type LabelStats = {
  pairs: number;
  /** (pair, principle) judgements, each scored in both orders. */
  judgements: number;
  /** Mean of max(p, 1 − p) over pairs: how sure the labels are. */
  meanConfidence: number;
  /** Share of (pair, principle) judgements whose preferred response changed when the order was swapped. */
  positionBiasRate: number;
  /** Share of judgements that picked the response shown first, in either order. */
  firstPositionRate: number;
};

export function labelStats(comparisons: { label: number; orders: { first: number; swapped: number }[] }[]): LabelStats {
  const judgements = comparisons.flatMap((c) => c.orders);
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    pairs: comparisons.length,
    judgements: judgements.length,
    meanConfidence: mean(comparisons.map((c) => Math.max(c.label, 1 - c.label))),
    // Consistent: i preferred in both orders, i.e. first > .5 and swapped < .5 (or the reverse).
    positionBiasRate: mean(judgements.map((o) => (o.first > 0.5 === o.swapped > 0.5 ? 1 : 0))),
    firstPositionRate: mean(judgements.flatMap((o) => [o.first > 0.5 ? 1 : 0, o.swapped > 0.5 ? 1 : 0])),
  };
}
